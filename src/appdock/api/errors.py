"""Errors as Bitbucket writes them:
``{"type": "error", "error": {"message", "detail", "fields"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from appdock.core.errors import AppdockError, Forbidden, Unauthorized

log = logging.getLogger("appdock.api")


def error_body(message: str, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if detail:
        error["detail"] = detail
    error.update({k: v for k, v in extra.items() if v})
    return {"type": "error", "error": error}


def appdock_error_response(exc: AppdockError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if exc.field:
        extra["fields"] = {exc.field: [exc.message]}
    if isinstance(exc, Forbidden) and exc.scope:
        extra["data"] = {"required_scope": exc.scope}
    if exc.data:
        extra["data"] = {**extra.get("data", {}), **exc.data}
    headers = (
        {"WWW-Authenticate": 'Basic realm="appdock"'} if isinstance(exc, Unauthorized) else None
    )
    return JSONResponse(
        error_body(exc.message, exc.detail, **extra), status_code=exc.status_code, headers=headers
    )


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors():
        fields.setdefault(_loc(err.get("loc", ())), []).append(str(err.get("msg", "invalid")))
    message = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()) or "bad request"
    return JSONResponse(error_body(message, fields=fields), status_code=400)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such resource"
    if exc.status_code == 405:
        message = "method not allowed on this resource"
    return JSONResponse(
        error_body(message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def unexpected_error_response(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal server error"), status_code=500)
