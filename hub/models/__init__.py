"""Models the hub can serve: packaged ones, the person's own GGUF files, and their metadata."""
