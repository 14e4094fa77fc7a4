"""Every query of the pull request domain: pull requests, participants, comments, tasks, and the
build statuses of their source commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from appdock.core import bbql, bbql_sql
from appdock.models import (
    CommitStatus,
    Membership,
    PullRequest,
    PullRequestComment,
    PullRequestParticipant,
    PullRequestTask,
    Repository,
    User,
    Workspace,
)


class PullRequestStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def flush(self) -> None:
        self.session.flush()

    # ---- pull requests ---------------------------------------------------------------------------
    def lock_repository(self, repo_id: int) -> None:
        """Serialise number allocation per repository (a row lock on PostgreSQL; SQLite writers
        are already serialised by ``BEGIN IMMEDIATE``)."""
        self.session.execute(
            select(Repository.id).where(Repository.id == repo_id).with_for_update()
        )

    def next_number(self, repo_id: int) -> int:
        current = self.session.scalar(
            select(func.max(PullRequest.number)).where(PullRequest.repository_id == repo_id)
        )
        return (current or 0) + 1

    def get(self, repo_id: int, number: int) -> PullRequest | None:
        return self.session.scalar(
            select(PullRequest).where(
                PullRequest.repository_id == repo_id, PullRequest.number == number
            )
        )

    def by_id(self, pr_id: int) -> PullRequest | None:
        return self.session.get(PullRequest, pr_id)

    def open_between(
        self, repo_id: int, source_repo_id: int, source_branch: str, destination_branch: str
    ) -> PullRequest | None:
        return self.session.scalar(
            select(PullRequest).where(
                PullRequest.repository_id == repo_id,
                PullRequest.source_repository_id == source_repo_id,
                PullRequest.source_branch == source_branch,
                PullRequest.destination_branch == destination_branch,
                PullRequest.state == "OPEN",
            )
        )

    def open_from(self, source_repo_id: int, source_branch: str) -> list[PullRequest]:
        """Open pull requests whose source is this branch (in any destination repository)."""
        return list(
            self.session.scalars(
                select(PullRequest)
                .where(
                    PullRequest.source_repository_id == source_repo_id,
                    PullRequest.source_branch == source_branch,
                    PullRequest.state == "OPEN",
                )
                .order_by(PullRequest.id)
            )
        )

    def open_into(self, repo_id: int, destination_branch: str) -> list[PullRequest]:
        return list(
            self.session.scalars(
                select(PullRequest)
                .where(
                    PullRequest.repository_id == repo_id,
                    PullRequest.destination_branch == destination_branch,
                    PullRequest.state == "OPEN",
                )
                .order_by(PullRequest.id)
            )
        )

    def query_condition(self, node: bbql.Node) -> ColumnElement[bool]:
        """A ``q=`` filter on pull requests as SQL (``state="MERGED"``, ``title ~ "x"``,
        ``source.branch.name = "f"``, ``author.uuid = "{...}"``, ``id > 3``)."""

        def author(field: str, attr: Any) -> bbql_sql.Comparator:
            return bbql_sql.related(
                field, PullRequest.author_user_id, lambda cond: select(User.id).where(cond), attr
            )

        fields = {
            "state": bbql_sql.text("state", PullRequest.state, upper=True),
            "title": bbql_sql.text("title", PullRequest.title),
            "description": bbql_sql.text("description", PullRequest.description),
            "id": bbql_sql.integer("id", PullRequest.number),
            "source.branch.name": bbql_sql.text("source.branch.name", PullRequest.source_branch),
            "destination.branch.name": bbql_sql.text(
                "destination.branch.name", PullRequest.destination_branch
            ),
            "author.uuid": author("author.uuid", User.uuid),
            "author.account_id": author("author.account_id", User.account_id),
            "author.username": author("author.username", User.username),
        }
        condition: ColumnElement[bool] = bbql.to_sql(node, fields, and_, or_)
        return condition

    _SORTS = {
        "id": PullRequest.number,
        "created_on": PullRequest.created_at,
        "updated_on": PullRequest.updated_at,
        "title": PullRequest.title,
        "state": PullRequest.state,
    }

    @classmethod
    def sort_fields(cls) -> tuple[str, ...]:
        return tuple(cls._SORTS)

    def search(
        self,
        repo_id: int,
        *,
        states: Sequence[str],
        conditions: Sequence[ColumnElement[bool]] = (),
        sort: str | None = None,
        offset: int = 0,
        limit: int = 50,
        title_contains: str | None = None,
    ) -> tuple[list[PullRequest], int]:
        stmt: Select[Any] = select(PullRequest).where(PullRequest.repository_id == repo_id)
        if states:
            stmt = stmt.where(PullRequest.state.in_(states))
        for condition in conditions:
            stmt = stmt.where(condition)
        if title_contains:
            stmt = stmt.where(
                func.lower(PullRequest.title).contains(title_contains.lower(), autoescape=True)
            )
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        order: list[Any] = []
        if sort:
            column = self._SORTS[sort.lstrip("-")]
            order.append(column.desc() if sort.startswith("-") else column.asc())
        order.append(PullRequest.number.desc())
        rows = list(self.session.scalars(stmt.order_by(*order).offset(offset).limit(limit)))
        return rows, total

    def open_involving(self, user_id: int, limit: int = 20) -> list[PullRequest]:
        """Open pull requests a user opened or reviews, most recently updated first (callers
        still check the repository permission: access may have changed since)."""
        reviewing = select(PullRequestParticipant.pullrequest_id).where(
            PullRequestParticipant.user_id == user_id, PullRequestParticipant.role == "REVIEWER"
        )
        return list(
            self.session.scalars(
                select(PullRequest)
                .where(
                    PullRequest.state == "OPEN",
                    or_(PullRequest.author_user_id == user_id, PullRequest.id.in_(reviewing)),
                )
                .order_by(PullRequest.updated_at.desc(), PullRequest.id.desc())
                .limit(limit)
            )
        )

    def count_by_state(self, repo_id: int) -> dict[str, int]:
        rows = self.session.execute(
            select(PullRequest.state, func.count())
            .where(PullRequest.repository_id == repo_id)
            .group_by(PullRequest.state)
        ).all()
        return {state: int(n) for state, n in rows}

    # ---- participants --------------------------------------------------------------------------
    def participants(self, pr_ids: Iterable[int]) -> dict[int, list[PullRequestParticipant]]:
        wanted = set(pr_ids)
        out: dict[int, list[PullRequestParticipant]] = {i: [] for i in wanted}
        if not wanted:
            return out
        rows = self.session.scalars(
            select(PullRequestParticipant)
            .where(PullRequestParticipant.pullrequest_id.in_(wanted))
            .order_by(PullRequestParticipant.id)
        )
        for row in rows:
            out[row.pullrequest_id].append(row)
        return out

    def participant(self, pr_id: int, user_id: int) -> PullRequestParticipant | None:
        return self.session.scalar(
            select(PullRequestParticipant).where(
                PullRequestParticipant.pullrequest_id == pr_id,
                PullRequestParticipant.user_id == user_id,
            )
        )

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    # ---- comments ------------------------------------------------------------------------------
    def comment(self, pr_id: int, comment_id: int) -> PullRequestComment | None:
        return self.session.scalar(
            select(PullRequestComment).where(
                PullRequestComment.pullrequest_id == pr_id, PullRequestComment.id == comment_id
            )
        )

    def comments(
        self, pr_id: int, *, offset: int = 0, limit: int = 100, include_deleted: bool = False
    ) -> tuple[list[PullRequestComment], int]:
        stmt = select(PullRequestComment).where(PullRequestComment.pullrequest_id == pr_id)
        if not include_deleted:
            stmt = stmt.where(PullRequestComment.deleted.is_(False))
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(
            stmt.order_by(PullRequestComment.created_at, PullRequestComment.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total

    def comment_counts(self, pr_ids: Iterable[int]) -> dict[int, int]:
        wanted = set(pr_ids)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(PullRequestComment.pullrequest_id, func.count())
            .where(
                PullRequestComment.pullrequest_id.in_(wanted),
                PullRequestComment.deleted.is_(False),
            )
            .group_by(PullRequestComment.pullrequest_id)
        ).all()
        return {pr_id: int(n) for pr_id, n in rows}

    # ---- tasks ---------------------------------------------------------------------------------
    def task(self, pr_id: int, task_id: int) -> PullRequestTask | None:
        return self.session.scalar(
            select(PullRequestTask).where(
                PullRequestTask.pullrequest_id == pr_id, PullRequestTask.id == task_id
            )
        )

    def tasks(
        self, pr_id: int, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[PullRequestTask], int]:
        stmt = select(PullRequestTask).where(PullRequestTask.pullrequest_id == pr_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(PullRequestTask.id).offset(offset).limit(limit))
        return list(rows), total

    def open_task_counts(self, pr_ids: Iterable[int]) -> dict[int, int]:
        wanted = set(pr_ids)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(PullRequestTask.pullrequest_id, func.count())
            .where(
                PullRequestTask.pullrequest_id.in_(wanted),
                PullRequestTask.state == "UNRESOLVED",
            )
            .group_by(PullRequestTask.pullrequest_id)
        ).all()
        return {pr_id: int(n) for pr_id, n in rows}

    # ---- related rows --------------------------------------------------------------------------
    def users_by_ids(self, ids: Iterable[int | None]) -> dict[int, User]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(wanted)))}

    def workspaces_by_ids(self, ids: Iterable[int | None]) -> dict[int, Workspace]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = self.session.scalars(select(Workspace).where(Workspace.id.in_(wanted)))
        return {w.id: w for w in rows}

    def member_ids(self, workspace_id: int) -> list[int]:
        return list(
            self.session.scalars(
                select(Membership.user_id).where(Membership.workspace_id == workspace_id)
            )
        )

    def repository_by_uuid(self, uuid: str) -> Repository | None:
        return self.session.scalar(select(Repository).where(Repository.uuid == uuid))

    def user_by_reference(self, ref: str) -> User | None:
        """A user named by uuid (``{...}``), account id or username."""
        return self.session.scalar(
            select(User).where(
                or_(User.uuid == ref, User.account_id == ref, User.username == ref),
                User.is_active.is_(True),
            )
        )

    def statuses_for(
        self, repo_ids: Sequence[int], commit_hash: str, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[CommitStatus], int]:
        """Build statuses reported on a commit in any of the repositories (a fork's pull request
        has its source commit in both)."""
        base = select(CommitStatus).where(
            CommitStatus.repository_id.in_(list(repo_ids)), CommitStatus.commit_hash == commit_hash
        )
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = self.session.scalars(
            base.order_by(CommitStatus.created_at.desc(), CommitStatus.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total

    def status_states(self, repo_id: int, commit_hashes: Sequence[str]) -> dict[str, list[str]]:
        if not commit_hashes:
            return {}
        rows = self.session.execute(
            select(CommitStatus.commit_hash, CommitStatus.state).where(
                CommitStatus.repository_id == repo_id,
                CommitStatus.commit_hash.in_(list(commit_hashes)),
            )
        ).all()
        out: dict[str, list[str]] = {}
        for h, state in rows:
            out.setdefault(h, []).append(state)
        return out
