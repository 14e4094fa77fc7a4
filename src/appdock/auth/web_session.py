"""The login cookie: a random token, signed, HttpOnly, SameSite=Lax; the database keeps its HMAC."""

from __future__ import annotations

from fastapi import Request, Response
from itsdangerous import BadSignature, Signer
from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.config import Settings

COOKIE = "adk_session"


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret, salt="appdock-session")


def user_id_from_request(request: Request, session: Session, settings: Settings) -> int | None:
    cached = getattr(request.state, "session_user_id", -1)
    if cached != -1:
        return cached  # type: ignore[no-any-return]
    user_id: int | None = None
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            token = _signer(settings).unsign(raw).decode()
        except BadSignature:
            token = None
        if token:
            user = AccountService(session, settings.secret).user_for_web_session(token)
            user_id = user.id if user else None
            request.state.session_token = token if user else None
    request.state.session_user_id = user_id
    return user_id


def set_login_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        _signer(settings).sign(token).decode(),
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.is_https,
        path="/",
    )


def clear_login_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
