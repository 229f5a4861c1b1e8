"""Bridges: apps and devices that cannot speak the device protocol, as devices of the hub."""
