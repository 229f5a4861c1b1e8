"""The local web UI: static pages, sign-in with a passphrase, and browser sessions."""
