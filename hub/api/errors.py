"""Every error leaves the hub in OpenAI's error shape, with a message that says what to fix."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.engine.chat_template import ChatTemplateError
from hub.engine.context_window import ContextOverflowError
from hub.engine.runner import QueueFullError
from hub.models.catalog import ModelCatalogError, UnknownModelError
from hub.models.gguf_info import NotAGgufFileError

logger = logging.getLogger(__name__)


class HubAPIError(Exception):
    """An error to return to the caller as-is."""

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
        self.status_code = status_code
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = headers


def error_body(
    message: str, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(error: HubAPIError) -> JSONResponse:
    """Render a HubAPIError."""
    return JSONResponse(
        error_body(error.message, error.error_type, error.code, error.param),
        status_code=error.status_code,
        headers=error.headers,
    )


def to_api_error(exc: BaseException) -> HubAPIError:
    """Map a domain error to the HTTP error a caller should see."""
    if isinstance(exc, HubAPIError):
        return exc
    if isinstance(exc, UnknownModelError):
        return HubAPIError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, ContextOverflowError):
        return HubAPIError(400, str(exc), code="context_length_exceeded", param="messages")
    if isinstance(exc, ChatTemplateError):
        return HubAPIError(400, str(exc), code="invalid_messages", param="messages")
    if isinstance(exc, QueueFullError):
        return HubAPIError(
            429,
            f"{exc}; the hub serves one request at a time and its wait queue is full",
            error_type="rate_limit_error",
            code="queue_full",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, ModelCatalogError | NotAGgufFileError):
        return HubAPIError(400, str(exc), code="invalid_model")
    logger.exception("unexpected error", exc_info=exc)
    return HubAPIError(
        500,
        "the hub hit an internal error; it has been logged (see `journalctl -u walking-nas`)",
        error_type="server_error",
        code="internal_error",
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

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(to_api_error(exc))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = _describe_validation(exc)
        return error_response(HubAPIError(400, message, param=param))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        messages = {
            404: f"no such endpoint: {request.method} {request.url.path}; see /docs",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        return error_response(
            HubAPIError(exc.status_code, message, headers=getattr(exc, "headers", None))
        )

    async def on_json(request: Request, exc: Exception) -> JSONResponse:
        return error_response(
            HubAPIError(400, f"the request body is not valid JSON ({exc}); send a JSON object")
        )

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(json.JSONDecodeError, on_json)
    for error_class in (
        HubAPIError,
        UnknownModelError,
        ContextOverflowError,
        ChatTemplateError,
        QueueFullError,
        ModelCatalogError,
        NotAGgufFileError,
        Exception,
    ):
        app.add_exception_handler(error_class, on_api_error)
