"""/docs and /openapi.json, for the owner only: the map of every endpoint is not for strangers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from hub.api.auth import require_owner

OPENAPI_URL = "/openapi.json"

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_owner)])


@router.get(OPENAPI_URL)
async def read_openapi(request: Request) -> JSONResponse:
    """The OpenAPI description of the hub's API."""
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def read_docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json (a signed-in browser's cookie reaches both)."""
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} - Swagger UI")
