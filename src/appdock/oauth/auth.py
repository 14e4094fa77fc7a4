"""``Authorization: Bearer <access token>`` on the API and ``x-token-auth:<token>`` on git: the
resolver registered in ``auth.authenticator.TOKEN_RESOLVERS["bearer"]`` by ``create_app``."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.subject import AuthSubject
from appdock.core.urls import Urls
from appdock.oauth.service import TokenService


def resolve_bearer(
    request: Request, token: str, session: Session, settings: Settings
) -> AuthSubject:
    urls: Urls = request.app.state.urls
    return TokenService(session, settings.secret, urls).resolve(token)
