"""Every query of the account domain: users, workspaces, memberships, projects, app passwords,
web sessions. Access filters ("which workspaces may this caller read") live here, once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select
from sqlalchemy.orm import Session

from appdock.models import AppPassword, Membership, Project, User, WebSession, Workspace

ROLE_RANK = {"member": 1, "admin": 2, "owner": 3}


class AccountStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    # users -----------------------------------------------------------------------------------
    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    def user_by_id(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def user_by_username(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username))

    def user_by_any_id(self, value: str) -> User | None:
        """A user by ``{uuid}``, account_id or username, as Bitbucket's ``selected_user``."""
        return self.session.scalar(
            select(User).where(
                or_(User.uuid == value, User.account_id == value, User.username == value)
            )
        )

    def users_by_ids(self, ids: Sequence[int]) -> dict[int, User]:
        if not ids:
            return {}
        rows = self.session.scalars(select(User).where(User.id.in_(set(ids))))
        return {u.id: u for u in rows}

    def count_users(self) -> int:
        return self.session.scalar(select(func.count(User.id))) or 0

    # workspaces ------------------------------------------------------------------------------
    def workspace_by_slug(self, slug: str) -> Workspace | None:
        return self.session.scalar(select(Workspace).where(Workspace.slug == slug))

    def workspace_by_slug_or_uuid(self, value: str) -> Workspace | None:
        return self.session.scalar(
            select(Workspace).where(or_(Workspace.slug == value, Workspace.uuid == value))
        )

    def workspace_by_id(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)

    def personal_workspace(self, user_id: int) -> Workspace | None:
        return self.session.scalar(select(Workspace).where(Workspace.owner_user_id == user_id))

    def readable_workspaces(
        self, user_id: int | None, workspace_id: int | None = None
    ) -> Select[Any]:
        """Workspaces a caller may see: where the user is a member, or the acting workspace."""
        conditions: list[ColumnElement[bool]] = []
        if user_id is not None:
            conditions.append(
                Workspace.id.in_(
                    select(Membership.workspace_id).where(Membership.user_id == user_id)
                )
            )
        if workspace_id is not None:
            conditions.append(Workspace.id == workspace_id)
        if not conditions:
            return select(Workspace).where(Workspace.id == -1)
        return select(Workspace).where(or_(*conditions))

    def list_member_workspaces(
        self, user_id: int, offset: int, limit: int
    ) -> tuple[list[tuple[Workspace, str]], int]:
        base = (
            select(Workspace, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id)
        )
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = self.session.execute(
            base.order_by(Workspace.kind.desc(), Workspace.slug).offset(offset).limit(limit)
        ).all()
        return [(w, role) for w, role in rows], total

    # memberships -----------------------------------------------------------------------------
    def membership(self, workspace_id: int, user_id: int) -> Membership | None:
        return self.session.scalar(
            select(Membership).where(
                Membership.workspace_id == workspace_id, Membership.user_id == user_id
            )
        )

    def list_members(
        self, workspace_id: int, offset: int, limit: int
    ) -> tuple[list[tuple[Membership, User]], int]:
        base = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.workspace_id == workspace_id)
        )
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = self.session.execute(base.order_by(User.username).offset(offset).limit(limit)).all()
        return [(m, u) for m, u in rows], total

    def count_owners(self, workspace_id: int) -> int:
        return (
            self.session.scalar(
                select(func.count(Membership.id)).where(
                    Membership.workspace_id == workspace_id, Membership.role == "owner"
                )
            )
            or 0
        )

    # projects --------------------------------------------------------------------------------
    def project(self, workspace_id: int, key: str) -> Project | None:
        return self.session.scalar(
            select(Project).where(Project.workspace_id == workspace_id, Project.key == key)
        )

    def project_by_id(self, project_id: int) -> Project | None:
        return self.session.get(Project, project_id)

    def default_project(self, workspace_id: int) -> Project | None:
        return self.session.scalar(
            select(Project)
            .where(Project.workspace_id == workspace_id)
            .order_by(Project.is_default.desc(), Project.id)
            .limit(1)
        )

    def list_projects(
        self, workspace_id: int, offset: int, limit: int
    ) -> tuple[list[Project], int]:
        base = select(Project).where(Project.workspace_id == workspace_id)
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = self.session.scalars(base.order_by(Project.key).offset(offset).limit(limit))
        return list(rows), total

    # app passwords ---------------------------------------------------------------------------
    def app_password_by_hash(self, token_hash: str) -> AppPassword | None:
        return self.session.scalar(select(AppPassword).where(AppPassword.token_hash == token_hash))

    def app_passwords_of(self, user_id: int) -> list[AppPassword]:
        return list(
            self.session.scalars(
                select(AppPassword)
                .where(AppPassword.user_id == user_id)
                .order_by(AppPassword.created_at.desc(), AppPassword.id.desc())
            )
        )

    def app_password(self, user_id: int, password_id: int) -> AppPassword | None:
        return self.session.scalar(
            select(AppPassword).where(AppPassword.user_id == user_id, AppPassword.id == password_id)
        )

    # web sessions ----------------------------------------------------------------------------
    def web_session_by_hash(self, token_hash: str) -> WebSession | None:
        return self.session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))

    def delete_web_session(self, token_hash: str) -> None:
        self.session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))

    def delete_expired_sessions(self, now: datetime) -> None:
        self.session.execute(delete(WebSession).where(WebSession.expires_at < now))
