"""Every query of the repository domain. The access filter ("which repositories may this caller
read") is built here, once, by :meth:`RepoStore.readable`; every listing starts from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select
from sqlalchemy.orm import Session

from appdock.core import bbql, bbql_sql
from appdock.core.subject import AuthSubject
from appdock.models import CommitStatus, Membership, Project, Repository, User, Workspace

ADMIN_ROLES = ("admin", "owner")


class RepoStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    # ---- access --------------------------------------------------------------------------------
    @staticmethod
    def _member_workspaces(user_id: int, roles: Sequence[str] | None = None) -> Select[Any]:
        stmt = select(Membership.workspace_id).where(Membership.user_id == user_id)
        if roles is not None:
            stmt = stmt.where(Membership.role.in_(roles))
        return stmt

    def readable_condition(
        self, subject: AuthSubject, role: str | None = None
    ) -> ColumnElement[bool]:
        """The one access rule, as a SQL condition on ``Repository``.

        Public repositories are readable by everyone; private ones by members of the owning
        workspace and by a credential acting as that workspace (a team-installed app).
        ``role`` narrows to repositories where the caller has at least that role, as Bitbucket's
        ``role=member|contributor|admin|owner`` (no public ones then).
        """
        conditions: list[ColumnElement[bool]] = []
        if role is None:
            conditions.append(Repository.is_private.is_(False))
        roles: Sequence[str] | None = None
        if role == "admin":
            roles = ADMIN_ROLES
        elif role == "owner":
            roles = ("owner",)
        if subject.user_id is not None:
            conditions.append(
                Repository.workspace_id.in_(self._member_workspaces(subject.user_id, roles))
            )
        if subject.workspace_id is not None and role != "owner":
            conditions.append(Repository.workspace_id == subject.workspace_id)
        if not conditions:
            return false()
        return or_(*conditions)

    def readable(self, subject: AuthSubject, role: str | None = None) -> Select[Any]:
        return select(Repository).where(self.readable_condition(subject, role))

    def role_of(self, workspace_id: int, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return self.session.scalar(
            select(Membership.role).where(
                Membership.workspace_id == workspace_id, Membership.user_id == user_id
            )
        )

    # ---- lookups -------------------------------------------------------------------------------
    def workspace(self, slug_or_uuid: str) -> Workspace | None:
        return self.session.scalar(
            select(Workspace).where(
                or_(Workspace.slug == slug_or_uuid, Workspace.uuid == slug_or_uuid)
            )
        )

    def workspace_by_id(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)

    def user_by_id(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def project_by_id(self, project_id: int) -> Project | None:
        return self.session.get(Project, project_id)

    def project(self, workspace_id: int, key: str) -> Project | None:
        return self.session.scalar(
            select(Project).where(Project.workspace_id == workspace_id, Project.key == key)
        )

    def projects_of(self, workspace_id: int) -> list[Project]:
        return list(
            self.session.scalars(
                select(Project)
                .where(Project.workspace_id == workspace_id)
                .order_by(Project.is_default.desc(), Project.key)
            )
        )

    def member_workspaces(self, user_id: int) -> list[Workspace]:
        """Workspaces a user belongs to (where they may create repositories): personal first."""
        return list(
            self.session.scalars(
                select(Workspace)
                .join(Membership, Membership.workspace_id == Workspace.id)
                .where(Membership.user_id == user_id)
                .order_by(Workspace.kind.desc(), Workspace.slug)
            )
        )

    def default_project(self, workspace_id: int) -> Project | None:
        return self.session.scalar(
            select(Project)
            .where(Project.workspace_id == workspace_id)
            .order_by(Project.is_default.desc(), Project.id)
            .limit(1)
        )

    def by_id(self, repo_id: int) -> Repository | None:
        return self.session.get(Repository, repo_id)

    def by_slug(self, workspace_id: int, slug_or_uuid: str) -> Repository | None:
        return self.session.scalar(
            select(Repository).where(
                Repository.workspace_id == workspace_id,
                or_(Repository.slug == slug_or_uuid, Repository.uuid == slug_or_uuid),
            )
        )

    def slug_taken(self, workspace_id: int, slug: str) -> bool:
        return (
            self.session.scalar(
                select(func.count(Repository.id)).where(
                    Repository.workspace_id == workspace_id, Repository.slug == slug
                )
            )
            or 0
        ) > 0

    def count_public_in(self, workspace_id: int) -> int:
        return (
            self.session.scalar(
                select(func.count(Repository.id)).where(
                    Repository.workspace_id == workspace_id, Repository.is_private.is_(False)
                )
            )
            or 0
        )

    def users_by_ids(self, ids: Iterable[int]) -> dict[int, User]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(wanted)))}

    def users_by_emails(self, emails: Iterable[str]) -> dict[str, User]:
        wanted = {e.lower() for e in emails if e}
        if not wanted:
            return {}
        rows = self.session.scalars(
            select(User).where(func.lower(User.email).in_(wanted), User.is_active.is_(True))
        )
        return {u.email.lower(): u for u in rows}

    def workspaces_by_ids(self, ids: Iterable[int]) -> dict[int, Workspace]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = self.session.scalars(select(Workspace).where(Workspace.id.in_(wanted)))
        return {w.id: w for w in rows}

    def projects_by_ids(self, ids: Iterable[int | None]) -> dict[int, Project]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = self.session.scalars(select(Project).where(Project.id.in_(wanted)))
        return {p.id: p for p in rows}

    def repos_by_ids(self, ids: Iterable[int | None]) -> dict[int, Repository]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = self.session.scalars(select(Repository).where(Repository.id.in_(wanted)))
        return {r.id: r for r in rows}

    # ---- listings ------------------------------------------------------------------------------
    _SORTS = {
        "name": Repository.name,
        "slug": Repository.slug,
        "created_on": Repository.created_at,
        "updated_on": Repository.updated_at,
        "size": Repository.size,
    }

    def list_readable(
        self,
        subject: AuthSubject,
        *,
        offset: int,
        limit: int,
        workspace_id: int | None = None,
        role: str | None = None,
        conditions: Sequence[ColumnElement[bool]] = (),
        sort: str | None = None,
        after: datetime | None = None,
        fork_of_id: int | None = None,
    ) -> tuple[list[Repository], int]:
        stmt = self.readable(subject, role)
        if workspace_id is not None:
            stmt = stmt.where(Repository.workspace_id == workspace_id)
        if fork_of_id is not None:
            stmt = stmt.where(Repository.fork_of_id == fork_of_id)
        if after is not None:
            stmt = stmt.where(Repository.created_at >= after)
        for condition in conditions:
            stmt = stmt.where(condition)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        order: list[Any] = []
        if sort:
            desc = sort.startswith("-")
            column = self._SORTS[sort.lstrip("-")]
            order.append(column.desc() if desc else column.asc())
        order += [Repository.workspace_id, Repository.slug]
        rows: list[Repository] = list(
            self.session.scalars(stmt.order_by(*order).offset(offset).limit(limit))
        )
        return rows, total

    @classmethod
    def sort_fields(cls) -> tuple[str, ...]:
        return tuple(cls._SORTS)

    def forks_of(self, repo_id: int) -> list[Repository]:
        return list(
            self.session.scalars(select(Repository).where(Repository.fork_of_id == repo_id))
        )

    def query_condition(self, node: bbql.Node) -> ColumnElement[bool]:
        """A ``q=`` filter on repositories as SQL."""

        def project_key(op: str, value: bbql.Value) -> ColumnElement[bool]:
            inner = bbql_sql.text("project.key", Project.key)(op.replace("!", ""), value)
            cond = Repository.project_id.in_(select(Project.id).where(inner))
            return not_(cond) if op.startswith("!") else cond

        def full_name(op: str, value: bbql.Value) -> ColumnElement[bool]:
            ws_slug, _, slug = str(value).partition("/")
            if op in ("=", "!="):
                cond = and_(
                    Repository.slug == slug,
                    Repository.workspace_id.in_(
                        select(Workspace.id).where(Workspace.slug == ws_slug)
                    ),
                )
                return cond if op == "=" else not_(cond)
            partial: ColumnElement[bool] = bbql_sql.text("full_name", Repository.slug)(
                op, slug or ws_slug
            )
            return partial

        fields: dict[str, Callable[[str, bbql.Value], Any]] = {
            "name": bbql_sql.text("name", Repository.name),
            "slug": bbql_sql.text("slug", Repository.slug),
            "description": bbql_sql.text("description", Repository.description),
            "language": bbql_sql.text("language", Repository.language),
            "uuid": bbql_sql.text("uuid", Repository.uuid),
            "full_name": full_name,
            "project.key": project_key,
            "is_private": bbql_sql.boolean("is_private", Repository.is_private),
            "created_on": bbql_sql.date("created_on", Repository.created_at),
            "updated_on": bbql_sql.date("updated_on", Repository.updated_at),
        }
        condition: ColumnElement[bool] = bbql.to_sql(node, fields, and_, or_)
        return condition

    # ---- build statuses ------------------------------------------------------------------------
    def status(self, repo_id: int, commit_hash: str, key: str) -> CommitStatus | None:
        return self.session.scalar(
            select(CommitStatus).where(
                CommitStatus.repository_id == repo_id,
                CommitStatus.commit_hash == commit_hash,
                CommitStatus.key == key,
            )
        )

    def statuses(
        self, repo_id: int, commit_hashes: Sequence[str], offset: int = 0, limit: int = 100
    ) -> tuple[list[CommitStatus], int]:
        base = select(CommitStatus).where(
            CommitStatus.repository_id == repo_id, CommitStatus.commit_hash.in_(commit_hashes)
        )
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = self.session.scalars(
            base.order_by(CommitStatus.created_at.desc(), CommitStatus.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total

    def status_summaries(self, repo_id: int, commit_hashes: Sequence[str]) -> dict[str, list[str]]:
        """commit hash -> the states of its build statuses (for list pages)."""
        if not commit_hashes:
            return {}
        rows = self.session.execute(
            select(CommitStatus.commit_hash, CommitStatus.state).where(
                CommitStatus.repository_id == repo_id,
                CommitStatus.commit_hash.in_(commit_hashes),
            )
        ).all()
        out: dict[str, list[str]] = {}
        for h, state in rows:
            out.setdefault(h, []).append(state)
        return out
