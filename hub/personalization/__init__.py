"""Nightly personalization in the hub: the person's data in, adapters out, swapped in live."""
