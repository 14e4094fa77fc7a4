"""From request credentials to an :class:`AuthSubject`, and the declared scope dependency.

Accepted on the REST API:
- ``Authorization: Basic`` with a username and an app password;
- ``Authorization: JWT`` (Connect apps) and ``Authorization: Bearer`` (access tokens), each
  resolved by the app platform through :data:`TOKEN_RESOLVERS`;
- the browser session cookie (unsafe methods also need the ``X-CSRF-Token`` header). With
  ``X-Appdock-App-Key`` (an app's ``AP.request`` relayed by the host page) every method needs the
  CSRF header and the app platform narrows the session to what the viewer granted that app
  (:data:`APP_SESSION_RESOLVERS`).

A credential that is present but wrong is always a 401 that says why; it never degrades to
anonymous. A Connect JWT sent as ``Bearer`` or as ``?jwt=`` is refused with a message.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Body, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.auth import csrf, web_session
from appdock.auth.deps import get_db, get_settings
from appdock.config import Settings
from appdock.core.errors import Forbidden, Unauthorized
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# scheme ("jwt" | "bearer") -> resolver(request, token, session, settings) -> AuthSubject.
# The app platform fills this in at start-up (create_app); until then those schemes are refused.
TokenResolver = Callable[[Request, str, Session, Settings], AuthSubject]
TOKEN_RESOLVERS: dict[str, TokenResolver] = {}

# "app" -> resolver(request, viewer's session subject, session, settings) -> the narrowed subject
# for a session request that carries X-Appdock-App-Key. Filled in by create_app; without it such
# requests are refused (never served with the viewer's full rights).
SessionAppResolver = Callable[[Request, AuthSubject, Session, Settings], AuthSubject]
APP_SESSION_RESOLVERS: dict[str, SessionAppResolver] = {}
APP_KEY_HEADER = "x-appdock-app-key"


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and "alg" in header


def parse_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("malformed Basic credentials: expected username:password")
    return username, password


def authenticate_api(request: Request, session: Session, settings: Settings) -> AuthSubject:
    if "jwt" in request.query_params:
        raise Unauthorized(
            "a jwt query parameter is not accepted on the REST API",
            detail="Send the token as 'Authorization: JWT <token>'.",
        )
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        lowered = scheme.lower()
        if lowered == "basic":
            username, password = parse_basic(value)
            accounts = AccountService(session, settings.secret)
            found = accounts.authenticate_app_password(username, password)
            if found is None:
                raise Unauthorized(
                    "invalid username or app password",
                    detail="The REST API accepts app passwords, not account passwords.",
                )
            user, scopes = found
            return AuthSubject.limited(
                "app_password", scopes, user_id=user.id, username=user.username
            )
        if lowered == "bearer" and looks_like_jwt(value) and _is_connect_jwt(value):
            raise Unauthorized(
                "a Connect JWT was sent with the Bearer scheme",
                detail="Send it as 'Authorization: JWT <token>', or exchange it for an access "
                "token at /site/oauth2/access_token.",
            )
        if lowered in ("jwt", "bearer"):
            resolver = TOKEN_RESOLVERS.get(lowered)
            if resolver is None:
                raise Unauthorized(f"{scheme} authentication is not enabled on this host")
            return resolver(request, value, session, settings)
        raise Unauthorized(f"unsupported authorization scheme {scheme!r}")
    user_id = web_session.user_id_from_request(request, session, settings)
    for_app = APP_KEY_HEADER in request.headers
    if user_id is not None:
        if for_app or request.method not in SAFE_METHODS:
            csrf.require_header(request, settings)
        user = AccountService(session, settings.secret).user_by_id(user_id)
        subject = AuthSubject(kind="session", user_id=user.id, username=user.username)
        if for_app:
            narrow = APP_SESSION_RESOLVERS.get("app")
            if narrow is None:
                raise Forbidden("requests on behalf of apps are not enabled on this host")
            return narrow(request, subject, session, settings)
        return subject
    if for_app:
        # 403, not 401: a 401 with WWW-Authenticate would make the browser prompt for a password.
        raise Forbidden(
            "an app's request needs a signed-in viewer",
            detail="Sign in (again) to let the app act for you.",
        )
    return AuthSubject.anonymous()


GIT_TOKEN_USERNAME = "x-token-auth"


def authenticate_git(request: Request, session: Session, settings: Settings) -> AuthSubject:
    """Credentials of a git client over smart HTTP: Basic with a username and the account
    password or an app password, or ``x-token-auth:<token>`` resolved by the app platform's
    ``TOKEN_RESOLVERS["bearer"]``. No header means anonymous (public clones)."""
    header = request.headers.get("authorization")
    if not header:
        return AuthSubject.anonymous()
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("git over HTTP uses Basic authentication")
    username, password = parse_basic(value.strip())
    if username == GIT_TOKEN_USERNAME:
        resolver = TOKEN_RESOLVERS.get("bearer")
        if resolver is None:
            raise Unauthorized("token authentication is not enabled on this host")
        return resolver(request, password, session, settings)
    accounts = AccountService(session, settings.secret)
    found = accounts.authenticate_app_password(username, password)
    if found is not None:
        holder, scopes = found
        return AuthSubject.limited(
            "app_password", scopes, user_id=holder.id, username=holder.username
        )
    user = accounts.authenticate_password(username, password)
    if user is not None:
        return AuthSubject(kind="password", user_id=user.id, username=user.username)
    raise Unauthorized("invalid username or password")


def _is_connect_jwt(token: str) -> bool:
    """Connect JWTs carry a qsh or an iss; our own access tokens are opaque, not JWTs."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    except (ValueError, binascii.Error, IndexError):
        return False
    return isinstance(payload, dict) and ("qsh" in payload or "iss" in payload)


def current_subject(
    request: Request,
    session: Session = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> AuthSubject:
    cached = getattr(request.state, "subject", None)
    if isinstance(cached, AuthSubject):
        return cached
    subject = authenticate_api(request, session, settings)
    request.state.subject = subject
    return subject


T = TypeVar("T")


@dataclass(frozen=True)
class Grant(Generic[T]):
    """What a scoped dependency hands to a route: the caller and, when declared, the parsed body."""

    subject: AuthSubject
    body: T


def authorize(
    scope: Scope | None,
    body: type[BaseModel] | None = None,
    *,
    authenticated: bool = False,
) -> Callable[..., Grant[Any]]:
    """Declare the scope a route needs, once. Order of checks: credentials (401), then the body
    (400 naming the field), then the scope (403 naming it).

    >>> @router.post("/workspaces/{ws}/projects")
    ... def create_project(ws: str, grant: Grant[ProjectCreate] = Depends(
    ...     authorize(Scope.PROJECT_ADMIN, ProjectCreate))): ...
    """

    def dependency(**kwargs: Any) -> Grant[Any]:
        subject: AuthSubject = kwargs["subject"]
        if authenticated and subject.is_anonymous:
            raise Unauthorized("authentication required")
        if scope is not None and not subject.is_anonymous:
            subject.require_scope(scope)
        return Grant(subject=subject, body=kwargs.get("payload"))

    params = [
        inspect.Parameter(
            "subject",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=AuthSubject,
            default=Depends(current_subject),
        )
    ]
    if body is not None:
        params.append(
            inspect.Parameter(
                "payload", inspect.Parameter.KEYWORD_ONLY, annotation=body, default=Body(...)
            )
        )
    dependency.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    dependency.required_scope = scope  # type: ignore[attr-defined]
    dependency.requires_auth = authenticated  # type: ignore[attr-defined]
    return dependency
