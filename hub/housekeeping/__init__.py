"""Memory housekeeping in the hub: the policy per kind, day summaries, runs, undo, schedule."""
