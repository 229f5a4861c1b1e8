"""The hub's memory: items, full-text and vector search."""
