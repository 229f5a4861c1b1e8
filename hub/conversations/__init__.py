"""Conversations of the web UI, kept by the hub in SQLite."""
