"""create_app(settings): the web pages, the REST API under /api, git over HTTP, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appdock import subscribers
from appdock.account import routes as account_routes
from appdock.account import views as account_views
from appdock.api.router import create_api
from appdock.appdata import routes as appdata_routes
from appdock.appdata import service as appdata_service
from appdock.auth.authenticator import APP_SESSION_RESOLVERS, TOKEN_RESOLVERS
from appdock.config import Settings
from appdock.connect import routes as connect_routes
from appdock.connect import views as connect_views
from appdock.connect.auth import resolve_jwt
from appdock.connect.ui import pages as connect_pages
from appdock.connect.ui import routes as bridge_routes
from appdock.connect.ui import views as bridge_views
from appdock.connect.ui.auth import resolve_app_session
from appdock.core.db import make_engine, make_session_factory
from appdock.core.errors import AppdockError
from appdock.core.urls import Urls
from appdock.issue import routes as issue_routes
from appdock.issue import views as issue_views
from appdock.oauth import routes as oauth_routes
from appdock.oauth.auth import resolve_bearer
from appdock.pullrequest import routes as pullrequest_routes
from appdock.pullrequest import views as pullrequest_views
from appdock.repo import githttp
from appdock.repo import routes as repo_routes
from appdock.repo import views as repo_views
from appdock.repo.push import drain_spool
from appdock.web.deps import LoginRequired
from appdock.web.templating import render
from appdock.webhook import routes as webhook_routes
from appdock.webhook import views as webhook_views
from appdock.webhook.worker import EmbeddedWorker

log = logging.getLogger("appdock")

STATIC_DIR = Path(__file__).parent / "web" / "static"

ERROR_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    500: "Server error",
}


class SecurityHeaders:
    """Host pages refuse to be framed and never sniff content types."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", b"frame-ancestors 'none'"))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url_resolved)
    session_factory = make_session_factory(engine)
    state: dict[str, Any] = {
        "settings": settings,
        "urls": Urls(settings.base_url),
        "engine": engine,
        "session_factory": session_factory,
        "read_session_factory": make_session_factory(engine, deferred=True),
        "account_settings_nav": [],
        "workspace_settings_nav": [],
        "dashboard_sections": [],
        "workspace_fragments": [repo_views.workspace_repositories],
        "repo_nav": [],
    }
    state["dashboard_sections"].append(repo_views.dashboard_repositories)
    webhook_views.register_nav(state)
    state["dashboard_sections"].append(pullrequest_views.dashboard_pullrequests)
    subscribers.register()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        spool = asyncio.create_task(_drain_push_spool(state))
        worker = EmbeddedWorker(settings, engine) if settings.webhook_worker else None
        if worker is not None:
            worker.start()
        yield
        spool.cancel()
        if worker is not None:
            await run_in_threadpool(worker.stop)
        engine.dispose()

    # The app platform: installed apps and the Marketplace in settings, app JWTs on the API.
    state["account_settings_nav"].extend(connect_views.ACCOUNT_NAV)
    state["workspace_settings_nav"].extend(connect_views.WORKSPACE_NAV)
    TOKEN_RESOLVERS["jwt"] = resolve_jwt
    TOKEN_RESOLVERS["bearer"] = resolve_bearer
    # Apps in the host's pages: users' grants (AP.request acts as the viewer within them).
    state["account_settings_nav"].extend(bridge_views.ACCOUNT_NAV)
    APP_SESSION_RESOLVERS["app"] = resolve_app_session
    # App modules in the host's pages (issue 7): repository and pull request views call this hook.
    state["page_modules"] = connect_pages.attach_repository_page
    state["linker_values"] = appdata_service.linker_value_sets
    state["repo_nav"].append(connect_pages.repository_nav)
    state["workspace_settings_sources"] = [connect_pages.settings_nav]
    state["account_settings_sources"] = [connect_pages.settings_nav]
    state["workspace_fragments"].insert(0, connect_pages.profile_tabs_fragment)

    app = FastAPI(
        title="appdock", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    for key, value in state.items():
        setattr(app.state, key, value)

    api = create_api(
        [
            account_routes.router,
            repo_routes.router,
            pullrequest_routes.router,
            issue_routes.router,
            webhook_routes.router,
            connect_routes.router,
            appdata_routes.router,
            appdata_routes.addon_router,
        ],
        state,
    )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means unhealthy
            log.warning("health check failed: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "database": str(exc)[:200]}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    app.mount("/api", api)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(bridge_routes.router)
    app.include_router(oauth_routes.router)
    app.include_router(bridge_views.router)
    app.include_router(account_views.router)
    app.include_router(repo_views.router)
    app.include_router(pullrequest_views.router)
    app.include_router(issue_views.router)
    app.include_router(webhook_views.router)
    app.include_router(connect_views.router)
    app.include_router(connect_pages.account_router)
    app.include_router(connect_pages.router)
    app.router.routes.extend(githttp.git_routes())
    # Catch-all page routes (/{workspace}, /{workspace}/{repo}) come last so specific paths win.
    app.include_router(account_views.workspace_router)
    app.include_router(repo_views.repository_router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.next_url, status_code=303)

    @app.exception_handler(AppdockError)
    async def _appdock(request: Request, exc: AppdockError) -> Response:
        return _error_page(request, exc.status_code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else ""
        if exc.status_code == 404:
            message = "There is nothing at this address, or you cannot see it."
        return _error_page(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error_page(request, 500, "Something went wrong on our side.")

    app.add_middleware(SecurityHeaders)
    return app


SPOOL_INTERVAL = 30.0


async def _drain_push_spool(state: dict[str, Any]) -> None:
    """Publish pushes whose hook could not (see appdock.repo.push): at start-up, then every
    SPOOL_INTERVAL seconds while the server runs."""
    while True:
        try:
            await run_in_threadpool(
                drain_spool, state["session_factory"], state["settings"], min_age=10.0
            )
        except Exception:
            log.exception("draining the push spool failed")
        await asyncio.sleep(SPOOL_INTERVAL)


def _error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if "text/html" not in request.headers.get("accept", "text/html"):
        return JSONResponse(
            {"type": "error", "error": {"message": message}}, status_code=status, headers=headers
        )
    response: HTMLResponse = render(
        request,
        "errors/error.html",
        {"status": status, "title": ERROR_TITLES.get(status, "Error"), "message": message},
        status_code=status,
    )
    if headers:
        response.headers.update(headers)
    return response
