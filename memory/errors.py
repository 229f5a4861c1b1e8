"""Errors of the memory store; each message says what to do about it."""

from __future__ import annotations


class MemoryStoreError(Exception):
    """Base class of every error the memory store raises on purpose; like every domain error
    it carries the HTTP status and the stable code a caller of the hub sees."""

    http_status: int = 400
    error_code: str = "invalid_memory"
    param: str | None = None


class InvalidMemoryError(MemoryStoreError, ValueError):
    """A caller sent something the store cannot keep or search with (bad text, kind, filter)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.param = field


class UnknownMemoryError(MemoryStoreError, LookupError):
    """No memory has this id."""

    http_status = 404
    error_code = "memory_not_found"
    param = "id"

    def __init__(self, memory_id: str) -> None:
        super().__init__(
            f"no memory has id {memory_id!r}; search with POST /v1/memory/search "
            "or `hub memory search` to find its id"
        )
        self.memory_id = memory_id


class ImportFormatError(MemoryStoreError, ValueError):
    """An import file is not a memory export this store understands."""

    error_code = "invalid_import"


class RunNotUndoableError(MemoryStoreError, LookupError):
    """Undo of a housekeeping run that does not exist or holds nothing any more."""

    http_status = 409
    error_code = "run_not_undoable"
    param = "run_id"
