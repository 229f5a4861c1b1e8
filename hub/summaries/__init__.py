"""Sensor summaries: notable events and hourly digests from device data, kept as memories."""
