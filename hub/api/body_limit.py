"""Refuse request bodies larger than the configured limit before they are read into memory."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.errors import error_body_for


class BodyLimitMiddleware:
    """Answer 413 for a body over ``max_bytes``; a body of unknown length is read up to the
    limit first, so a chunked upload cannot slip past it. Paths in ``uploads`` (file
    uploads the route streams to disk itself) take up to their own limit, and only with a
    declared length, so no upload is ever held in memory here."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = dict(uploads or {})

    async def _reject(
        self, path: str, send: Send, message: str | None = None, status: int = 413
    ) -> None:
        body = json.dumps(
            error_body_for(
                path,
                message
                or f"the request body is larger than {self.max_bytes} bytes; send less, or "
                "raise HUB_MAX_BODY_BYTES",
                "invalid_request_error",
                "body_too_large" if status == 413 else "length_required",
                status=status,
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, or read an undeclared body up to the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload_limit = self.uploads.get(scope["path"])
        if upload_limit is not None and scope.get("method") == "POST":
            await self._upload(scope, receive, send, upload_limit)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._reject(scope["path"], send)
                    return
        if not any(name == b"content-length" for name, _ in scope.get("headers", [])):
            body = await self._read_limited(receive)
            if body is None:
                await self._reject(scope["path"], send)
                return
            receive = self._replay(body, receive)
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        lengths = [value for name, value in scope.get("headers", []) if name == b"content-length"]
        try:
            declared = int(lengths[0]) if len(lengths) == 1 else -1
        except ValueError:
            declared = -1
        if declared < 0:
            message = "send the file with its Content-Length (not chunked)"
            await self._reject(scope["path"], send, message, 411)
        elif declared > limit:
            message = f"the file is larger than {limit} bytes; raise HUB_IMPORT_MAX_BYTES"
            await self._reject(scope["path"], send, message)
        else:
            await self.app(scope, receive, send)

    async def _read_limited(self, receive: Receive) -> bytes | None:
        """Read a body of unknown length; None when it passes the limit."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
