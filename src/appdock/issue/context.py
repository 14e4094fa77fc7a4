"""An issue with the rows its representations need (repository, reporter, assignee)."""

from __future__ import annotations

from dataclasses import dataclass

from appdock.issue.store import IssueStore
from appdock.models import Issue, User
from appdock.repo.context import RepoContext


@dataclass(frozen=True)
class IssueContext:
    issue: Issue
    repo: RepoContext
    reporter: User | None
    assignee: User | None
    comment_count: int = 0


def load_issues(store: IssueStore, repo: RepoContext, rows: list[Issue]) -> list[IssueContext]:
    users = store.users_by_ids(
        [r.reporter_user_id for r in rows] + [r.assignee_user_id for r in rows]
    )
    counts = store.comment_counts(r.id for r in rows)
    return [
        IssueContext(
            issue=r,
            repo=repo,
            reporter=users.get(r.reporter_user_id) if r.reporter_user_id else None,
            assignee=users.get(r.assignee_user_id) if r.assignee_user_id else None,
            comment_count=counts.get(r.id, 0),
        )
        for r in rows
    ]


def load_issue(store: IssueStore, repo: RepoContext, row: Issue) -> IssueContext:
    return load_issues(store, repo, [row])[0]
