"""Every query of the access tokens: by the HMAC of a token, with the installation it belongs to,
its account and the account's owning user (one query per API request)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from appdock.models import AppAccessToken, Installation, User, Workspace

TokenRow = tuple[AppAccessToken, Installation, Workspace, User | None]


class TokenStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: AppAccessToken) -> None:
        self.session.add(row)
        self.session.flush()

    def delete(self, row: AppAccessToken) -> None:
        self.session.delete(row)
        self.session.flush()

    def _with_installation(self, condition: object) -> TokenRow | None:
        found = self.session.execute(
            select(AppAccessToken, Installation, Workspace, User)
            .join(Installation, Installation.id == AppAccessToken.installation_id)
            .join(Workspace, Workspace.id == Installation.workspace_id)
            .outerjoin(User, and_(Workspace.kind == "personal", User.id == Workspace.owner_user_id))
            .where(condition)  # type: ignore[arg-type]
        ).first()
        if found is None:
            return None
        return found[0], found[1], found[2], found[3]

    def by_access_hash(self, digest: str) -> TokenRow | None:
        return self._with_installation(AppAccessToken.access_hash == digest)

    def by_refresh_hash(self, digest: str) -> TokenRow | None:
        return self._with_installation(AppAccessToken.refresh_hash == digest)

    def delete_spent(self, installation_id: int, now: datetime) -> None:
        """Drop the installation's tokens that can neither be used nor refreshed any more."""
        self.session.execute(
            delete(AppAccessToken).where(
                AppAccessToken.installation_id == installation_id,
                AppAccessToken.refresh_expires_at < now,
            )
        )
