"""ggml's RPC backend, reached through the llama.cpp libraries that llama-cpp-python installs.

Both halves run inside llama.cpp: `hub worker` hands this machine's CPU to ggml's RPC server,
and a model process that lists workers registers them as devices before it loads the model, so
llama.cpp places the model's layers on them. The functions are looked up through ggml's backend
registry (as llama.cpp's own tools do) rather than linked by name, so a build without RPC is
reported with the fix instead of failing to load.
"""

from __future__ import annotations

import ctypes
import socket
from pathlib import Path

from hub.errors import HubError

GGML_BACKEND_DEVICE_TYPE_CPU = 0
PROBE_TIMEOUT_S = 3.0

_START_SERVER = ctypes.CFUNCTYPE(
    None,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_size_t,
    ctypes.c_size_t,
    ctypes.POINTER(ctypes.c_void_p),
)
_ADD_SERVER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)


class RpcUnavailableError(HubError, RuntimeError):
    """This llama.cpp build was made without ggml's RPC backend."""

    http_status = 503
    error_code = "rpc_unavailable"
    error_type = "server_error"


class WorkerUnreachableError(HubError, RuntimeError):
    """A listed worker does not answer; the message says how to start or remove it."""

    http_status = 503
    error_code = "worker_unreachable"
    error_type = "server_error"


class RpcLibrary:
    """The ggml library of this llama.cpp build, with the few registry calls RPC needs."""

    def __init__(self) -> None:
        import llama_cpp
        from llama_cpp import llama_cpp as bindings

        self.supported = bool(llama_cpp.llama_supports_rpc())
        # The ggml that libllama itself loaded, found through libllama's handle (a lookup there
        # searches its dependencies too). Opening libggml by its path would not do: a wheel
        # holds copies rather than symlinks, so `libggml.so` is a second library beside the
        # `libggml.so.0` that llama.cpp uses, with a device registry of its own.
        library: ctypes.CDLL = bindings._lib
        self._lib = library
        self._lib.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
        self._lib.ggml_backend_reg_by_name.restype = ctypes.c_void_p
        self._lib.ggml_backend_register.argtypes = [ctypes.c_void_p]
        self._lib.ggml_backend_register.restype = None
        self._lib.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
        self._lib.ggml_backend_dev_by_type.restype = ctypes.c_void_p
        self._lib.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self._lib.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p

    def _proc(self, name: str) -> int:
        registry = self._lib.ggml_backend_reg_by_name(b"RPC") if self.supported else None
        if not registry:
            raise RpcUnavailableError(
                "this llama.cpp build has no RPC backend; rebuild it with "
                "CMAKE_ARGS=-DGGML_RPC=on (`make setup` does this), on this machine and on "
                "every worker"
            )
        address = self._lib.ggml_backend_reg_get_proc_address(registry, name.encode())
        if not address:
            raise RpcUnavailableError(f"this llama.cpp build's RPC backend has no {name}")
        return int(address)

    def check(self) -> None:
        """Raise RpcUnavailableError unless workers can be served and used."""
        self._proc("ggml_backend_rpc_start_server")

    def serve(self, address: str, threads: int, cache_dir: Path | None) -> None:
        """Serve this machine's CPU at ``address`` until the process ends (blocks).

        Returns only when ggml could not listen there (the address is not this machine's, or
        the port is taken): ggml prints why on stderr.
        """
        start_server = _START_SERVER(self._proc("ggml_backend_rpc_start_server"))
        cpu = self._lib.ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)
        devices = (ctypes.c_void_p * 1)(cpu)
        cache = str(cache_dir).encode() if cache_dir is not None else None
        start_server(address.encode(), cache, threads, 1, devices)

    def add_workers(self, addresses: tuple[str, ...]) -> None:
        """Register each worker as a llama.cpp device, checking first that it answers."""
        add_server = _ADD_SERVER(self._proc("ggml_backend_rpc_add_server"))
        for address in addresses:
            # ggml aborts the whole process when it cannot connect: look first, and say why.
            probe_worker(address)
            registry = add_server(address.encode())
            if not registry:
                raise WorkerUnreachableError(
                    f"the worker at {address} answered but offered no device: is it a "
                    "`hub worker` of the same version as this hub?"
                )
            self._lib.ggml_backend_register(registry)


def probe_worker(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise WorkerUnreachableError unless something listens at ``address`` (``IPv4:port``)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise WorkerUnreachableError(
            f"the worker at {address} does not answer ({exc.strerror or exc}); start "
            f"`hub worker --listen {address}` on that machine, or take it off the model with "
            "`hub models workers NAME --clear`"
        ) from None
