"""Client credentials: revocable keys for the person's other programs, each limited to scopes."""
