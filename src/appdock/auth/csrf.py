"""CSRF protection by signed double submit.

Every browser gets a random ``adk_csrf`` cookie; forms carry ``csrf_token`` = HMAC(secret, cookie)
and session-authenticated API calls carry it as ``X-CSRF-Token``. A cross-site page can neither read
the cookie nor forge the HMAC.
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from appdock.config import Settings
from appdock.core import crypto
from appdock.core.errors import Forbidden

COOKIE = "adk_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def ensure_cookie(request: Request) -> str:
    """The browser's CSRF cookie value, minting one for this response if absent."""
    value = request.cookies.get(COOKIE) or getattr(request.state, "csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.csrf_cookie = value
    return str(value)


def token_for(request: Request, settings: Settings) -> str:
    return crypto.token_hash(settings.secret, "csrf:" + ensure_cookie(request))


def set_cookie_if_new(request: Request, response: Response, settings: Settings) -> None:
    new = getattr(request.state, "csrf_cookie", None)
    if new and not request.cookies.get(COOKIE):
        response.set_cookie(
            COOKIE, new, httponly=True, samesite="lax", secure=settings.is_https, path="/"
        )


def check(request: Request, settings: Settings, submitted: str | None) -> None:
    cookie = request.cookies.get(COOKIE)
    expected = crypto.token_hash(settings.secret, "csrf:" + cookie) if cookie else None
    if not expected or not submitted or not crypto.constant_time_equals(expected, submitted):
        raise Forbidden(
            "the form expired or did not come from this site; reload the page and try again"
        )


def require_header(request: Request, settings: Settings) -> None:
    check(request, settings, request.headers.get(HEADER))
