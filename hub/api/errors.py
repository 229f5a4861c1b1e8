"""Every error leaves the hub in OpenAI's error shape, with a message that says what to fix
(under /api/, the Ollama-compatible API, in Ollama's: ``{"error": "..."}``; under /api/v1/, the
Nightscout-compatible API, in Nightscout's: ``{"status", "message", "description"}``).

One mapping for all of them: a domain error (``hub.errors.CodedError``: the hub's own
``HubError`` and the coded errors of ``memory``, ``devices`` and ``adapters``) carries its HTTP
status and stable code; anything else is an internal error, logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.registry import RegistryError
from devices.pairing import PairingError
from hub.errors import CodedError, HubError
from memory.errors import MemoryStoreError

logger = logging.getLogger(__name__)

# The bases of every coded error class: the hub's own and those of the packages it builds on.
DOMAIN_ERROR_BASES: tuple[type[Exception], ...] = (
    HubError,
    MemoryStoreError,
    RegistryError,
    PairingError,
)


class HubAPIError(HubError):
    """A refusal decided at the HTTP edge (a query parameter, a body that is not a WAV file)."""

    def __init__(
        self,
        status_code: int,
        message: str,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = status_code
        self.error_code = code or "invalid_request"
        self.error_type = error_type
        self.param = param
        self.headers = headers

    def http_headers(self) -> dict[str, str] | None:
        """The headers given at construction."""
        return self.headers


@dataclass(frozen=True)
class ApiError:
    """An error as the caller will see it."""

    status_code: int
    message: str
    error_type: str
    code: str | None
    param: str | None = None
    headers: dict[str, str] | None = None


class ErrorDetail(BaseModel):
    """What went wrong and how to fix it."""

    message: str = Field(description="What went wrong, and what to do about it.")
    type: str = Field(description="OpenAI's error type, such as invalid_request_error.")
    param: str | None = Field(description="The request field at fault, when there is one.")
    code: str | None = Field(description="A stable code, such as model_not_found.")


class ErrorBody(BaseModel):
    """Every error answer, in OpenAI's error shape."""

    error: ErrorDetail


class OllamaErrorBody(BaseModel):
    """Every error answer of the Ollama-compatible API (/api/*), in Ollama's shape."""

    error: str = Field(description="What went wrong, and what to do about it.")


# For a router's ``responses``: documents the error shape (and replaces FastAPI's default 422,
# which this hub never sends: invalid requests are answered 400).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "The request was refused; the message says why."},
    "5XX": {
        "model": ErrorBody,
        "description": "The hub could not answer (a part is turned off, "
        "or an internal error, logged).",
    },
}


OLLAMA_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": OllamaErrorBody, "description": "The request was refused; it says why."},
    "5XX": {"model": OllamaErrorBody, "description": "The hub could not answer."},
}


def error_body(
    message: str, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def speaks_nightscout(path: str) -> bool:
    """True for the Nightscout-compatible API's paths (/api/v1/...), whose uploaders read
    Nightscout's ``{"status", "message", "description"}``. Ollama has no /api/v1 path."""
    return path == "/api/v1" or path.startswith("/api/v1/")


def speaks_ollama(path: str) -> bool:
    """True for the Ollama-compatible API's paths, whose clients read ``{"error": "..."}``."""
    return (path == "/api" or path.startswith("/api/")) and not speaks_nightscout(path)


def nightscout_error_body(status: int, message: str) -> dict[str, Any]:
    """Nightscout's error object: the status, its name, and what went wrong."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {"status": status, "message": title, "description": message}


def error_body_for(
    path: str,
    message: str,
    error_type: str,
    code: str | None = None,
    param: str | None = None,
    status: int = 400,
) -> dict[str, Any]:
    """The error object in the shape the caller of ``path`` reads: Nightscout's, Ollama's or
    OpenAI's (``status`` is the answer's HTTP status, which Nightscout's shape repeats)."""
    if speaks_nightscout(path):
        return nightscout_error_body(status, message)
    if speaks_ollama(path):
        return {"error": message}
    return error_body(message, error_type, code, param)


def error_response(error: ApiError, path: str = "") -> JSONResponse:
    """Render an error as JSON with its status, in the shape the caller of ``path`` reads."""
    return JSONResponse(
        error_body_for(
            path, error.message, error.error_type, error.code, error.param, error.status_code
        ),
        status_code=error.status_code,
        headers=error.headers,
    )


def to_api_error(exc: BaseException) -> ApiError:
    """How the caller sees ``exc``: a domain error as it describes itself, anything else as a
    logged internal error."""
    if isinstance(exc, CodedError):
        status = exc.http_status
        default_type = "server_error" if status >= 500 else "invalid_request_error"
        headers = exc.http_headers() if isinstance(exc, HubError) else None
        return ApiError(
            status,
            str(exc),
            getattr(exc, "error_type", default_type),
            exc.error_code,
            getattr(exc, "param", None),
            headers,
        )
    logger.exception("unexpected error", exc_info=exc)
    return ApiError(
        500,
        "the hub hit an internal error; it has been logged (see `journalctl -u walking-nas`)",
        "server_error",
        "internal_error",
    )


def _describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    first_param: str | None = None
    for error in exc.errors()[:5]:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        first_param = first_param or where
        if error.get("type") == "json_invalid":
            return (
                "the request body is not valid JSON "
                f"({error.get('ctx', {}).get('error', 'parse error')}); send a JSON object",
                None,
            )
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems), first_param


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through one place so the shape never varies."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(to_api_error(exc), request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = _describe_validation(exc)
        return error_response(
            ApiError(400, message, "invalid_request_error", None, param), request.url.path
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        messages = {
            404: f"no such endpoint: {request.method} {request.url.path}; see /docs",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        headers = getattr(exc, "headers", None)
        return error_response(
            ApiError(exc.status_code, message, "invalid_request_error", None, None, headers),
            request.url.path,
        )

    async def on_json(request: Request, exc: Exception) -> JSONResponse:
        message = f"the request body is not valid JSON ({exc}); send a JSON object"
        return error_response(
            ApiError(400, message, "invalid_request_error", None), request.url.path
        )

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(json.JSONDecodeError, on_json)
    # Domain errors and everything unexpected go through one handler. Starlette answers a
    # handler registered for Exception itself from its outermost middleware and then re-raises
    # (logging a traceback), so the domain errors' base classes are registered by name.
    for base in DOMAIN_ERROR_BASES:
        app.add_exception_handler(base, on_error)
    app.add_exception_handler(Exception, on_error)
