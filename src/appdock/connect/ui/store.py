"""Every query of the iframe bridge's back end: users' grants to installed apps."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.models import AppGrant, Installation, Workspace


class GrantStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    def grant_for(self, installation_id: int, user_id: int) -> AppGrant | None:
        return self.session.scalar(
            select(AppGrant).where(
                AppGrant.installation_id == installation_id, AppGrant.user_id == user_id
            )
        )

    def grant_of_user(self, grant_id: int, user_id: int) -> AppGrant | None:
        """A grant by id, only when it is ``user_id``'s own."""
        return self.session.scalar(
            select(AppGrant).where(AppGrant.id == grant_id, AppGrant.user_id == user_id)
        )

    def grants_of_user(self, user_id: int) -> list[tuple[AppGrant, Installation, Workspace]]:
        """A user's grants with their installation and its account, newest first."""
        rows = self.session.execute(
            select(AppGrant, Installation, Workspace)
            .join(Installation, Installation.id == AppGrant.installation_id)
            .join(Workspace, Workspace.id == Installation.workspace_id)
            .where(AppGrant.user_id == user_id)
            .order_by(AppGrant.created_at.desc(), AppGrant.id.desc())
        )
        return [(g, i, w) for g, i, w in rows]

    def grants_for(self, user_id: int, installation_ids: list[int]) -> dict[int, AppGrant]:
        """A user's grants to these installations, by installation id."""
        if not installation_ids:
            return {}
        rows = self.session.scalars(
            select(AppGrant).where(
                AppGrant.user_id == user_id, AppGrant.installation_id.in_(installation_ids)
            )
        )
        return {g.installation_id: g for g in rows}

    def installations_by_ids(self, installation_ids: list[int]) -> list[Installation]:
        if not installation_ids:
            return []
        return list(
            self.session.scalars(
                select(Installation)
                .where(Installation.id.in_(installation_ids))
                .order_by(Installation.app_key)
            )
        )

    def installation_by_client_key(self, client_key: str) -> Installation | None:
        return self.session.scalar(
            select(Installation).where(Installation.client_key == client_key)
        )

    def workspace_by_id(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)
