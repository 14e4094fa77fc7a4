"""The installation access tokens: issued by the JWT bearer grant, rotated by the refresh grant,
resolved for ``Authorization: Bearer`` on the API and ``x-token-auth`` on git.

Invariants:
- tokens are ``adk_at_…`` (access) and ``adk_rt_…`` (refresh); only their HMACs are stored;
- a token belongs to an installation row: uninstalling deletes the row and, by cascade, every
  token, so from that commit on they are refused (a reinstall is a new row; old tokens stay dead);
- a token never carries more than the installation holds now: its scopes are intersected with
  the installation's current grant on every use;
- refreshing spends the refresh token: the old pair is deleted and a new pair issued.

Errors are :class:`OAuthError` (RFC 6749 §5.2 codes); the route renders them as OAuth JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from appdock.connect.service import (
    ConnectService,
    granted_closure,
    granted_scopes,
    installation_subject,
)
from appdock.core import crypto
from appdock.core.errors import Unauthorized
from appdock.core.scopes import format_scopes, parse_scopes
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.models import AppAccessToken
from appdock.oauth.store import TokenStore

JWT_GRANT = "urn:bitbucket:oauth2:jwt"
REFRESH_GRANT = "refresh_token"
ACCESS_LIFETIME = timedelta(hours=2)
REFRESH_LIFETIME = timedelta(days=30)
ACCESS_KIND = "at"
REFRESH_KIND = "rt"


class OAuthError(Exception):
    """An OAuth 2 error response: ``error`` is an RFC 6749 code, ``description`` says why."""

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: str

    def as_json(self) -> dict[str, str | int]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scopes": self.scopes,
            "refresh_token": self.refresh_token,
        }


class TokenService:
    def __init__(self, session: Session, secret_key: str, urls: Urls) -> None:
        self.session = session
        self.store = TokenStore(session)
        self.secret_key = secret_key
        self.urls = urls

    def jwt_grant(self, token: str, canonicals: list[str]) -> IssuedToken:
        """Exchange an app → host JWT (``iss`` app key, ``sub`` clientKey; ``qsh`` optional,
        over one of ``canonicals`` when present) for an installation access token.

        >>> svc.jwt_grant(app_jwt, ["POST&/site/oauth2/access_token&"]).as_json()["token_type"]
        'bearer'
        """
        connect = ConnectService(self.session, self.secret_key, self.urls)
        try:
            subject = connect.authenticate_app_jwt(token, canonicals, qsh_optional=True)
        except Unauthorized as exc:
            raise OAuthError("invalid_grant", exc.message) from exc
        if subject.installation_id is None:
            raise OAuthError(
                "unauthorized_client",
                "the installation of this app is not complete yet; request a token after the "
                "installed callback has answered",
            )
        inst = connect.installation(subject.installation_id)
        return self._issue(inst.id, format_scopes(granted_scopes(inst)))

    def refresh(self, refresh_token: str) -> IssuedToken:
        """A new token pair for a refresh token, which is spent."""
        found = self.store.by_refresh_hash(crypto.token_hash(self.secret_key, refresh_token))
        if found is None:
            raise OAuthError(
                "invalid_grant",
                "unknown refresh token: it was already used, or its app was uninstalled",
            )
        if found.refresh_expires_at <= utc_now():
            raise OAuthError("invalid_grant", "the refresh token has expired")
        principal = found.principal
        scopes = format_scopes(parse_scopes(found.scopes) & parse_scopes(principal.scopes))
        self.store.delete(found.token_id)
        return self._issue(principal.installation_id, scopes)

    def resolve(self, access_token: str) -> AuthSubject:
        """The installation an access token acts for; Unauthorized saying why it is refused."""
        found = self.store.by_access_hash(crypto.token_hash(self.secret_key, access_token))
        if found is None:
            raise Unauthorized(
                "invalid access token",
                detail="The token is unknown, or its app was uninstalled. Request a new one at "
                "/site/oauth2/access_token.",
            )
        if found.expires_at <= utc_now():
            raise Unauthorized(
                f"access token expired at {found.expires_at.isoformat()}",
                detail="Refresh it with grant_type=refresh_token, or request a new one.",
            )
        scopes = granted_closure(found.scopes) & granted_closure(found.principal.scopes)
        return installation_subject(found.principal, scopes)

    def _issue(self, installation_id: int, scopes: str) -> IssuedToken:
        now = utc_now()
        self.store.delete_spent(installation_id, now)
        access = crypto.new_token(ACCESS_KIND)
        refresh = crypto.new_token(REFRESH_KIND)
        self.store.add(
            AppAccessToken(
                installation_id=installation_id,
                access_hash=crypto.token_hash(self.secret_key, access),
                refresh_hash=crypto.token_hash(self.secret_key, refresh),
                scopes=scopes,
                expires_at=now + ACCESS_LIFETIME,
                refresh_expires_at=now + REFRESH_LIFETIME,
            )
        )
        return IssuedToken(
            access_token=access,
            refresh_token=refresh,
            expires_in=int(ACCESS_LIFETIME.total_seconds()),
            scopes=scopes,
        )
