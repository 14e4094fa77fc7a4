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

    def granted_installation_ids(self, user_id: int, installation_ids: list[int]) -> set[int]:
        if not installation_ids:
            return set()
        return set(
            self.session.scalars(
                select(AppGrant.installation_id).where(
                    AppGrant.user_id == user_id, AppGrant.installation_id.in_(installation_ids)
                )
            )
        )

    def installation_by_client_key(self, client_key: str) -> Installation | None:
        return self.session.scalar(
            select(Installation).where(Installation.client_key == client_key)
        )

    def workspace_by_id(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)
