"""Simulated wearables that speak the real device protocol to a real hub."""
