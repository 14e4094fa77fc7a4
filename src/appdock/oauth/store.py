"""Every query of the access tokens. A token is looked up by the HMAC of its value together with
its installation, the installation's account and the account's owning user: one prepared query
of plain columns per API request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.orm import Session

from appdock.connect.store import InstallationPrincipal
from appdock.models import AppAccessToken, Installation, User, Workspace


@dataclass(frozen=True)
class TokenRecord:
    token_id: int
    scopes: str
    expires_at: datetime
    refresh_expires_at: datetime
    principal: InstallationPrincipal


def _lookup(column: object) -> object:
    return (
        select(
            AppAccessToken.id,
            AppAccessToken.scopes,
            AppAccessToken.expires_at,
            AppAccessToken.refresh_expires_at,
            Installation.id,
            Installation.app_key,
            Installation.client_key,
            Installation.shared_secret,
            Installation.scopes,
            Workspace.id,
            User.id,
            User.username,
        )
        .join(Installation, Installation.id == AppAccessToken.installation_id)
        .join(Workspace, Workspace.id == Installation.workspace_id)
        .outerjoin(User, and_(Workspace.kind == "personal", User.id == Workspace.owner_user_id))
        .where(column == bindparam("digest"))  # type: ignore[operator]
    )


_BY_ACCESS = _lookup(AppAccessToken.access_hash)
_BY_REFRESH = _lookup(AppAccessToken.refresh_hash)


class TokenStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: AppAccessToken) -> None:
        self.session.add(row)
        self.session.flush()

    def delete(self, token_id: int) -> None:
        self.session.execute(delete(AppAccessToken).where(AppAccessToken.id == token_id))

    def _find(self, statement: object, digest: str) -> TokenRecord | None:
        row = self.session.connection().execute(statement, {"digest": digest}).first()  # type: ignore[call-overload]
        if row is None:
            return None
        return TokenRecord(row[0], row[1], row[2], row[3], InstallationPrincipal(*row[4:]))

    def by_access_hash(self, digest: str) -> TokenRecord | None:
        return self._find(_BY_ACCESS, digest)

    def by_refresh_hash(self, digest: str) -> TokenRecord | None:
        return self._find(_BY_REFRESH, digest)

    def delete_spent(self, installation_id: int, now: datetime) -> None:
        """Drop the installation's tokens that can neither be used nor refreshed any more."""
        self.session.execute(
            delete(AppAccessToken).where(
                AppAccessToken.installation_id == installation_id,
                AppAccessToken.refresh_expires_at < now,
            )
        )
