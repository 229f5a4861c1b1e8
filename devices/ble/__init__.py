"""Bluetooth LE bridges: heart-rate straps and watches, and the Omi pendant's audio.

The parsers and the reconnect loop need no radio; only ``devices.ble.bleak_backend`` imports
``bleak`` (the optional extra ``ble``).
"""
