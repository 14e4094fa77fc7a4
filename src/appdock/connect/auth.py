"""``Authorization: JWT`` on the REST API: the resolver registered in
``auth.authenticator.TOKEN_RESOLVERS["jwt"]`` by ``create_app``, and the dependency of the
``/2.0/addon`` routes, which only an app may call.

The qsh is recomputed from the raw request path (``scope["raw_path"]``, never the decoded path)
and the raw query string, relative to the API root. Requests arrive at ``/api/2.0/...``;
atlassian-connect-express hashes ``/2.0/...`` (its paths are relative to ``baseApiUrl``) while
apps that join paths onto ``baseUrl`` hash ``/api/2.0/...``: both are accepted, nothing else.
"""

from __future__ import annotations

import logging

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from appdock.auth.authenticator import current_subject
from appdock.config import Settings
from appdock.connect import jwt
from appdock.connect.service import ConnectService
from appdock.core.errors import Unauthorized
from appdock.core.subject import AuthSubject
from appdock.core.urls import Urls

API_PREFIX = "/api"
log = logging.getLogger("appdock.connect.auth")


def api_relative_path(request: Request) -> str:
    """The raw path below the API root: ``/2.0/...``."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else request.url.path
    root = str(request.scope.get("root_path") or "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    if path.startswith(API_PREFIX + "/"):
        return path[len(API_PREFIX) :]
    return path


def canonical_candidates(request: Request) -> list[str]:
    query_bytes = request.scope.get("query_string", b"")
    query = query_bytes.decode("latin-1") if isinstance(query_bytes, bytes) else ""
    relative = api_relative_path(request)
    out: list[str] = []
    for path in (relative, API_PREFIX + relative):
        canonical = jwt.canonical_parts(request.method, path, query)
        if canonical not in out:
            out.append(canonical)
    return out


def resolve_jwt(request: Request, token: str, session: Session, settings: Settings) -> AuthSubject:
    urls: Urls = request.app.state.urls
    service = ConnectService(session, settings.secret, urls)
    try:
        return service.authenticate_app_jwt(token, canonical_candidates(request))
    except Unauthorized as exc:
        log_refusal(request, token, exc)
        raise


def log_refusal(request: Request, token: str, exc: Unauthorized) -> None:
    """One warning line per refused app JWT, naming the app and the check, so whoever runs the
    installation can see why its calls fail (the app gets the same message in the 401)."""
    try:
        claims = jwt.read_app_token(token)
        who = f"app {claims.issuer!r} (clientKey {claims.client_key!r})"
    except jwt.JwtRefused:
        who = "a malformed token"
    log.warning(
        "app JWT refused for %s %s from %s: %s",
        request.method,
        request.url.path,
        who,
        exc.message,
    )


def require_installation(subject: AuthSubject = Depends(current_subject)) -> AuthSubject:
    """Only an app's own JWT may call ``/2.0/addon``."""
    if subject.kind != "installation":
        raise Unauthorized(
            "Authentication must use app JWT",
            detail="Call /2.0/addon with 'Authorization: JWT <token>' (iss = app key, "
            "sub = clientKey).",
        )
    return subject
