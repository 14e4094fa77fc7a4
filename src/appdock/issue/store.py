"""Every query of the issue tracker: issues, their comments and change records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from appdock.core import bbql, bbql_sql
from appdock.models import Issue, IssueChange, IssueComment, Membership, Repository, User

PRIORITY_ORDER = ("trivial", "minor", "major", "critical", "blocker")


def _user(field: str, fk: Any, attr: Any) -> bbql_sql.Comparator:
    return bbql_sql.related(field, fk, lambda cond: select(User.id).where(cond), attr)


class IssueStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    # ---- issues --------------------------------------------------------------------------------
    def lock_repository(self, repo_id: int) -> None:
        self.session.execute(
            select(Repository.id).where(Repository.id == repo_id).with_for_update()
        )

    def next_number(self, repo_id: int) -> int:
        current = self.session.scalar(
            select(func.max(Issue.number)).where(Issue.repository_id == repo_id)
        )
        return (current or 0) + 1

    def get(self, repo_id: int, number: int) -> Issue | None:
        return self.session.scalar(
            select(Issue).where(Issue.repository_id == repo_id, Issue.number == number)
        )

    def query_condition(self, node: bbql.Node) -> ColumnElement[bool]:
        fields = {
            "id": bbql_sql.integer("id", Issue.number),
            "title": bbql_sql.text("title", Issue.title),
            "content.raw": bbql_sql.text("content.raw", Issue.content),
            "state": bbql_sql.text("state", Issue.state),
            "kind": bbql_sql.text("kind", Issue.kind),
            "priority": bbql_sql.text("priority", Issue.priority),
            "votes": bbql_sql.integer("votes", Issue.votes),
            "assignee.uuid": _user("assignee.uuid", Issue.assignee_user_id, User.uuid),
            "assignee.account_id": _user(
                "assignee.account_id", Issue.assignee_user_id, User.account_id
            ),
            "assignee.username": _user("assignee.username", Issue.assignee_user_id, User.username),
            "reporter.uuid": _user("reporter.uuid", Issue.reporter_user_id, User.uuid),
            "reporter.account_id": _user(
                "reporter.account_id", Issue.reporter_user_id, User.account_id
            ),
            "reporter.username": _user("reporter.username", Issue.reporter_user_id, User.username),
        }
        condition: ColumnElement[bool] = bbql.to_sql(node, fields, and_, or_)
        return condition

    _SORTS: dict[str, Any] = {
        "id": Issue.number,
        "created_on": Issue.created_at,
        "updated_on": Issue.updated_at,
        "title": Issue.title,
        "state": Issue.state,
        "kind": Issue.kind,
        "votes": Issue.votes,
        "priority": case(
            {p: i for i, p in enumerate(PRIORITY_ORDER)}, value=Issue.priority, else_=-1
        ),
    }

    @classmethod
    def sort_fields(cls) -> tuple[str, ...]:
        return tuple(cls._SORTS)

    def search(
        self,
        repo_id: int,
        *,
        conditions: Sequence[ColumnElement[bool]] = (),
        states: Sequence[str] = (),
        sort: str | None = None,
        offset: int = 0,
        limit: int = 50,
        title_contains: str | None = None,
    ) -> tuple[list[Issue], int]:
        stmt: Select[Any] = select(Issue).where(Issue.repository_id == repo_id)
        if states:
            stmt = stmt.where(Issue.state.in_(list(states)))
        for condition in conditions:
            stmt = stmt.where(condition)
        if title_contains:
            stmt = stmt.where(
                func.lower(Issue.title).contains(title_contains.lower(), autoescape=True)
            )
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        order: list[Any] = []
        if sort:
            column = self._SORTS[sort.lstrip("-")]
            order.append(column.desc() if sort.startswith("-") else column.asc())
        order.append(Issue.number.desc())
        rows = list(self.session.scalars(stmt.order_by(*order).offset(offset).limit(limit)))
        return rows, total

    def count_by_state(self, repo_id: int) -> dict[str, int]:
        rows = self.session.execute(
            select(Issue.state, func.count())
            .where(Issue.repository_id == repo_id)
            .group_by(Issue.state)
        ).all()
        return {state: int(n) for state, n in rows}

    # ---- comments ------------------------------------------------------------------------------
    def comment(self, issue_id: int, comment_id: int) -> IssueComment | None:
        return self.session.scalar(
            select(IssueComment).where(
                IssueComment.issue_id == issue_id, IssueComment.id == comment_id
            )
        )

    def comments(
        self, issue_id: int, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[IssueComment], int]:
        stmt = select(IssueComment).where(IssueComment.issue_id == issue_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(
            stmt.order_by(IssueComment.created_at, IssueComment.id).offset(offset).limit(limit)
        )
        return list(rows), total

    def comment_counts(self, issue_ids: Iterable[int]) -> dict[int, int]:
        wanted = set(issue_ids)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(IssueComment.issue_id, func.count())
            .where(IssueComment.issue_id.in_(wanted))
            .group_by(IssueComment.issue_id)
        ).all()
        return {i: int(n) for i, n in rows}

    # ---- changes -------------------------------------------------------------------------------
    def changes(
        self, issue_id: int, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[IssueChange], int]:
        stmt = select(IssueChange).where(IssueChange.issue_id == issue_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(IssueChange.id).offset(offset).limit(limit))
        return list(rows), total

    def change(self, issue_id: int, change_id: int) -> IssueChange | None:
        return self.session.scalar(
            select(IssueChange).where(IssueChange.issue_id == issue_id, IssueChange.id == change_id)
        )

    def comments_by_ids(self, ids: Iterable[int | None]) -> dict[int, IssueComment]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = self.session.scalars(select(IssueComment).where(IssueComment.id.in_(wanted)))
        return {c.id: c for c in rows}

    # ---- users ---------------------------------------------------------------------------------
    def users_by_ids(self, ids: Iterable[int | None]) -> dict[int, User]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(wanted)))}

    def members(self, workspace_id: int) -> list[User]:
        return list(
            self.session.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.workspace_id == workspace_id, User.is_active.is_(True))
                .order_by(User.display_name)
            )
        )

    def user_by_reference(self, ref: str) -> User | None:
        """A user named by uuid, account id or username."""
        return self.session.scalar(
            select(User).where(
                or_(User.uuid == ref, User.account_id == ref, User.username == ref),
                User.is_active.is_(True),
            )
        )
