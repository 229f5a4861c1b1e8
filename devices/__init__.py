"""Wearables: discovery, pairing, links and lossless stream ingest."""
