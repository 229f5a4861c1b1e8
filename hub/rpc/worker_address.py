"""Worker addresses: where an RPC worker listens, checked to stay on the home network.

ggml's RPC protocol has no authentication or encryption: whoever reaches a worker can make it
allocate memory and run graphs, and whatever the hub sends it (weights, activations of the
person's prompts) crosses the network in the clear. So a worker listens only on an address the
person names, never on every interface (0.0.0.0) and never on a public address, and the hub only
sends to workers the person listed, on the same kinds of address.
"""

from __future__ import annotations

import ipaddress

from hub.errors import HubError

DEFAULT_WORKER_PORT = 50052  # llama.cpp's rpc-server uses this port too


class WorkerAddressError(HubError, ValueError):
    """A worker address was refused; the message says which address would do."""

    error_code = "invalid_worker_address"
    param = "workers"


def parse_worker_address(text: str) -> str:
    """Return ``text`` as ``IPv4:port`` if it is a private, loopback or link-local address."""
    raw = text.strip()
    host, separator, port_text = raw.rpartition(":")
    if not separator:
        host, port_text = raw, str(DEFAULT_WORKER_PORT)
    if host.startswith("[") or ":" in host:
        raise WorkerAddressError(
            f"{text!r}: llama.cpp's RPC speaks IPv4 only; give the worker's IPv4 address on "
            f"your home network, such as 192.168.1.30:{DEFAULT_WORKER_PORT}"
        )
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise WorkerAddressError(
            f"{text!r} is not an IPv4 address; give the worker's address as numbers (a name "
            f"could later point elsewhere), such as 192.168.1.30:{DEFAULT_WORKER_PORT}"
        ) from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise WorkerAddressError(f"{text!r}: the port must be a number from 1 to 65535")
    if address.is_unspecified:
        raise WorkerAddressError(
            f"{text!r} means every interface, public ones included; name the one address of "
            "this machine on your home network (see `ip -4 addr`), or 127.0.0.1 to try it out"
        )
    if address.is_global or address.is_multicast or address.is_reserved:
        raise WorkerAddressError(
            f"{text!r} is not a home-network address: the RPC protocol has no password or "
            "encryption, so workers are only used on loopback, private (10.x, 172.16-31.x, "
            "192.168.x) or link-local addresses"
        )
    return f"{address}:{int(port_text)}"


def parse_worker_addresses(texts: list[str]) -> tuple[str, ...]:
    """Parse several addresses, refusing the same worker twice."""
    addresses = tuple(parse_worker_address(text) for text in texts)
    if len(set(addresses)) != len(addresses):
        raise WorkerAddressError("a worker is listed twice; list each worker once")
    return addresses
