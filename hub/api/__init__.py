"""The hub's HTTP API: OpenAI-compatible endpoints, health and metrics."""
