"""usearch's Index, imported after the system's C++ runtime so that both agree on its globals.

usearch's compiled module carries its own copy of the C++ standard library. Imported first in
a process, its copy's process-wide symbols (GNU unique: the locale facets' ids) win, and
llama.cpp, loaded later in the same process against the system's libstdc++, then fails to read
a model's vocabulary with std::bad_cast (seen in the test session, where the memory tests import
usearch before the model tests load a model). Loading the system's library first makes both
use its globals. Import ``Index`` from here, never from usearch directly.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util


def load_system_cpp_runtime() -> None:
    """Load the system's libstdc++ into the process, its symbols global (once is enough)."""
    name = ctypes.util.find_library("stdc++")
    if name:
        with contextlib.suppress(OSError):
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)


load_system_cpp_runtime()

from usearch.index import Index  # noqa: E402  (after the runtime, on purpose)

__all__ = ["Index", "load_system_cpp_runtime"]
