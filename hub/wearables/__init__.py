"""The hub's side of the device protocol: device records, links, ingest."""
