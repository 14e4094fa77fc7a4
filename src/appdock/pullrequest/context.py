"""A pull request together with the rows its representations need (both repositories, author,
participants, counts), loaded with a few queries per page. Routes turn it into schemas; pages
into view models; nothing past a route sees it."""

from __future__ import annotations

from dataclasses import dataclass

from appdock.models import PullRequest, PullRequestParticipant, User, Workspace
from appdock.pullrequest.store import PullRequestStore
from appdock.repo.context import RepoContext, load_context
from appdock.repo.store import RepoStore


@dataclass(frozen=True)
class Participation:
    row: PullRequestParticipant
    user: User


@dataclass(frozen=True)
class PullRequestContext:
    pr: PullRequest
    destination: RepoContext
    source: RepoContext | None  # None once a fork it came from was deleted
    author: User | None
    author_workspace: Workspace | None  # an app acting as its team opened it
    closed_by: User | None
    participants: tuple[Participation, ...]
    comment_count: int
    task_count: int

    @property
    def number(self) -> int:
        return self.pr.number

    @property
    def is_fork(self) -> bool:
        return self.pr.source_repository_id != self.pr.repository_id

    @property
    def reviewers(self) -> list[User]:
        return [p.user for p in self.participants if p.row.role == "REVIEWER"]

    @property
    def source_label(self) -> str:
        """``feature`` for a branch of the same repository, ``ws/fork:feature`` for a fork."""
        if not self.is_fork:
            return self.pr.source_branch
        name = self.source.full_name if self.source else "(deleted fork)"
        return f"{name}:{self.pr.source_branch}"


def load_pullrequests(
    store: PullRequestStore,
    repos: RepoStore,
    destination: RepoContext,
    rows: list[PullRequest],
) -> list[PullRequestContext]:
    """Contexts for pull requests into one destination repository."""
    ids = [r.id for r in rows]
    participants = store.participants(ids)
    users = store.users_by_ids(
        [r.author_user_id for r in rows]
        + [r.closed_by_user_id for r in rows]
        + [p.user_id for ps in participants.values() for p in ps]
    )
    workspaces = store.workspaces_by_ids(r.author_workspace_id for r in rows)
    comments = store.comment_counts(ids)
    tasks = store.open_task_counts(ids)
    sources: dict[int, RepoContext | None] = {destination.repo.id: destination}
    out = []
    for row in rows:
        sid = row.source_repository_id
        if sid is not None and sid not in sources:
            repo = repos.by_id(sid)
            sources[sid] = load_context(repos, repo) if repo is not None else None
        out.append(
            PullRequestContext(
                pr=row,
                destination=destination,
                source=sources.get(sid) if sid is not None else None,
                author=users.get(row.author_user_id) if row.author_user_id else None,
                author_workspace=(
                    workspaces.get(row.author_workspace_id) if row.author_workspace_id else None
                ),
                closed_by=users.get(row.closed_by_user_id) if row.closed_by_user_id else None,
                participants=tuple(
                    Participation(p, users[p.user_id])
                    for p in participants.get(row.id, [])
                    if p.user_id in users
                ),
                comment_count=comments.get(row.id, 0),
                task_count=tasks.get(row.id, 0),
            )
        )
    return out


def load_pullrequest(
    store: PullRequestStore, repos: RepoStore, destination: RepoContext, row: PullRequest
) -> PullRequestContext:
    return load_pullrequests(store, repos, destination, [row])[0]
