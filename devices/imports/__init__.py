"""Streaming importers of files that apps and devices export, each yielding ``BridgeSample``s.

One module per format; ``common`` holds what they share and ``formats`` lists them by the
name ``hub import`` takes. Pure parsing: nothing here reaches the hub's store.
"""
