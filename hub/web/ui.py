"""Serve the web UI: index.html at / and its static files, with a strict content policy."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"

# Only the hub's own files may run or load; no inline script, no plug-ins, no framing.
# Media from blob: is audio the page itself fetched from the hub (the Voice page's "Say").
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["web ui"], include_in_schema=False)


@router.get("/")
async def read_index() -> FileResponse:
    """The web UI's single page (it signs in and routes by itself)."""
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


class UIStaticFiles(StaticFiles):
    """Static files that are revalidated on every load and never sniffed as another type."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the file, adding the page headers."""

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (name.lower().encode(), value.encode()) for name, value in PAGE_HEADERS.items()
                ]
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_headers)


def install_web_ui(app: FastAPI) -> None:
    """Add the page at / and the files under /static to ``app``."""
    app.include_router(router)
    app.mount("/static", UIStaticFiles(directory=STATIC_DIR), name="static")
