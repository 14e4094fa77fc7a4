"""Rendering pages. Templates receive plain view data (dicts of primitives or pydantic views),
never ORM rows, and Jinja autoescapes everything they print."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup

from appdock.auth import csrf
from appdock.config import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "adk_flash"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["json"] = json


def _initials(name: str) -> str:
    parts = [p for p in name.replace("-", " ").replace("_", " ").split() if p]
    return ("".join(p[0] for p in parts[:2]) or "?").upper()


templates.env.filters["initials"] = _initials


def _timeago(value: str | datetime | None) -> str:
    """``3 days ago`` for an ISO timestamp or datetime (pages show the exact time as a title)."""
    if value is None or value == "":
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - when).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (
        ("year", 31536000),
        ("month", 2592000),
        ("week", 604800),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def _filesize(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


templates.env.filters["timeago"] = _timeago
templates.env.filters["filesize"] = _filesize


def _flash_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret, salt="appdock-flash")


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Queue a message for the next page this browser renders."""
    pending: list[dict[str, str]] = getattr(request.state, "flash_out", [])
    pending.append({"kind": kind, "message": message})
    request.state.flash_out = pending


def redirect(request: Request, url: str, status_code: int = 303) -> RedirectResponse:
    response = RedirectResponse(url, status_code=status_code)
    _write_flash(request, response)
    return response


def _write_flash(request: Request, response: Any) -> None:
    settings: Settings = request.app.state.settings
    pending = getattr(request.state, "flash_out", None)
    if pending:
        response.set_cookie(
            FLASH_COOKIE,
            _flash_serializer(settings).dumps(pending),
            httponly=True,
            samesite="lax",
            secure=settings.is_https,
            path="/",
        )
    csrf.set_cookie_if_new(request, response, settings)


def _read_flash(request: Request, settings: Settings) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        value = _flash_serializer(settings).loads(raw)
    except BadSignature:
        return []
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    ctx: dict[str, Any] = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "csrf_token": csrf.token_for(request, settings),
        "flashes": _read_flash(request, settings) + getattr(request.state, "flash_out", []),
        "base_url": settings.base_url,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    csrf.set_cookie_if_new(request, response, settings)
    return response


def csrf_input(token: str) -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


templates.env.globals["csrf_input"] = csrf_input
