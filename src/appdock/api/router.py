"""The REST API application, mounted at ``/api`` so that ``baseApiUrl`` is ``{BASE_URL}/api``.

It has its own exception handlers (Bitbucket's error envelope) and its own OpenAPI document at
``/api/openapi.json``. Trailing slashes are accepted by normalising the routing path; the raw path
(``raw_path``) stays untouched for JWT query-string hashes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from appdock.api.errors import (
    appdock_error_response,
    http_error_response,
    unexpected_error_response,
    validation_error_response,
)
from appdock.core.errors import AppdockError


class StripTrailingSlash:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope, path=path.rstrip("/") or "/")
        await self.app(scope, receive, send)


def create_api(routers: list[APIRouter], state: dict[str, Any]) -> FastAPI:
    api = FastAPI(
        title="appdock REST API",
        version="2.0",
        description="Bitbucket Cloud REST API 2.0 compatible endpoints served by appdock.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,
    )
    for key, value in state.items():
        setattr(api.state, key, value)
    for router in routers:
        api.include_router(router, prefix="/2.0")

    @api.exception_handler(AppdockError)
    async def _appdock(_: Request, exc: AppdockError) -> Any:
        return appdock_error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Any:
        return validation_error_response(exc)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Any:
        return http_error_response(exc)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        return unexpected_error_response(request, exc)

    api.add_middleware(StripTrailingSlash)
    return api
