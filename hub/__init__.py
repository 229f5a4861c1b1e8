"""Walking NAS hub: serves the person's local model, memory and devices over HTTP."""

__version__ = "0.1.0"
