"""``POST /site/oauth2/access_token``: the JWT bearer grant and the refresh grant.

The app's JWT comes as ``Authorization: JWT <token>`` (Bitbucket's documented form) or as a
``jwt`` form field; its ``qsh``, when present, covers ``POST`` or ``GET`` on this path (real apps
send either) with the request's query string. Answers are OAuth 2 JSON: the token response, or
``{"error", "error_description"}`` (RFC 6749 §5.2), never cached.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.connect import jwt
from appdock.oauth.service import JWT_GRANT, REFRESH_GRANT, OAuthError, TokenService

router = APIRouter(tags=["oauth"])

TOKEN_PATH = "/site/oauth2/access_token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def grant_canonicals(request: Request, base_path: str) -> list[str]:
    """The canonical requests a grant JWT's qsh may cover: POST or GET on the raw path."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else request.url.path
    query_bytes = request.scope.get("query_string", b"")
    query = query_bytes.decode("latin-1") if isinstance(query_bytes, bytes) else ""
    return [jwt.canonical_parts(m, path, query, base_path) for m in ("POST", "GET")]


def _jwt_from(request: Request, field: str | None) -> str | None:
    header = (request.headers.get("authorization") or "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "jwt" and value.strip():
        return value.strip()
    return field.strip() if field and field.strip() else None


def _error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status_code,
        headers=NO_STORE,
    )


@router.post(TOKEN_PATH, summary="Installation access token (JWT bearer grant) and refresh")
def access_token(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
    grant_type: Annotated[str | None, Form()] = None,
    jwt_field: Annotated[str | None, Form(alias="jwt")] = None,
    refresh_token: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    service = TokenService(db, settings.secret, urls)
    try:
        if not grant_type:
            raise OAuthError(
                "invalid_request",
                "grant_type is missing; send it form-encoded "
                f"(grant_type={JWT_GRANT} or grant_type={REFRESH_GRANT})",
            )
        if grant_type == JWT_GRANT:
            token = _jwt_from(request, jwt_field)
            if token is None:
                raise OAuthError(
                    "invalid_request",
                    "the app's JWT is missing; send it as 'Authorization: JWT <token>' "
                    "(iss = app key, sub = clientKey)",
                )
            base_path = urlsplit(settings.base_url).path
            issued = service.jwt_grant(token, grant_canonicals(request, base_path))
        elif grant_type == REFRESH_GRANT:
            if not refresh_token:
                raise OAuthError("invalid_request", "refresh_token is missing")
            issued = service.refresh(refresh_token)
        else:
            raise OAuthError(
                "unsupported_grant_type",
                f"grant_type {grant_type!r} is not supported here; use {JWT_GRANT} or "
                f"{REFRESH_GRANT}",
            )
    except OAuthError as exc:
        db.rollback()
        return _error(exc)
    return JSONResponse(issued.as_json(), headers=NO_STORE)
