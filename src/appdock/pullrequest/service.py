"""Rules for pull requests: open (same repository or from a fork), update, review, comment,
merge with git, decline, and follow the branches as people push. Methods flush; the caller commits.

Invariants:
- Permissions come from :class:`RepoService` (scope 403 → hidden 404 → level 403): reading and
  commenting need read access and the ``pullrequest`` scope; opening, reviewing and declining
  need ``pullrequest:write`` (declining: the author or a writer); merging needs write access.
- The destination repository keeps ``refs/pullrequests/<id>/from`` at the source commit (fetched
  from the fork when there is one), hidden from git clients, so diffs and merges never depend
  on the source branch or fork still existing.
- A merge is made with git on a quarantined object store (:mod:`appdock.git.merge`) and lands
  with one compare-and-swap ``update-ref``: a conflict or a lost race is a 409, the pull request
  stays open and the repository is unchanged. The ref change is journalled and published as
  ``repo:push`` like any push (:mod:`appdock.repo.push`).
- Every change publishes its event in the same transaction, with a payload built by
  :mod:`appdock.pullrequest.payloads`.
- :func:`track_push` (a push listener) moves the source commit of open pull requests when their
  branch is pushed (``pullrequest:updated``), marks them MERGED when their commits reach the
  destination (``pullrequest:fulfilled``), DECLINED when the source branch is deleted, or
  SUPERSEDED when it is deleted while another open pull request into the same branch already
  carries its commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core import bbql
from appdock.core.db import on_rollback
from appdock.core.errors import BadRequest, Conflict, Forbidden, NotFound
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.event.service import EventKey, publish
from appdock.git import (
    ZERO,
    Commit,
    FileChange,
    GitError,
    GitRepo,
    Identity,
    MergeFailed,
    RefConflict,
    RefUpdate,
    commit_tree,
    fetch_ref,
    hide_refs,
    merge_trees,
    quarantine,
)
from appdock.models import (
    CommitStatus,
    Event,
    PullRequest,
    PullRequestComment,
    PullRequestParticipant,
    PullRequestTask,
    Repository,
    User,
)
from appdock.pullrequest import payloads
from appdock.pullrequest.context import (
    PullRequestContext,
    load_pullrequest,
    load_pullrequests,
)
from appdock.pullrequest.schemas import STATES, approval_read, comment_read
from appdock.pullrequest.store import PullRequestStore
from appdock.repo.context import RepoContext
from appdock.repo.push import PushRecord, journal_ref_updates, record_push
from appdock.repo.service import Actor, Permission, RepoService

log = logging.getLogger("appdock.pullrequest")

MERGE_STRATEGIES = ("merge_commit", "squash", "fast_forward")
PR_REF_PREFIX = "refs/pullrequests"
MAX_SQUASH_SUMMARIES = 50


def pr_ref(number: int) -> str:
    return f"{PR_REF_PREFIX}/{number}/from"


@dataclass(frozen=True)
class MergeOutcome:
    """What a merge did: the new destination tip and the commit that recorded the merge
    (None when the destination already contained the source)."""

    destination: str
    merge_commit: str | None


class PullRequestService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repos = RepoService(session, settings)
        self.store = PullRequestStore(session)
        self.urls = Urls(settings.base_url)

    # ---- lookups -------------------------------------------------------------------------------
    def repository(
        self,
        workspace: str,
        repo_slug: str,
        subject: AuthSubject,
        level: Permission = Permission.READ,
        *,
        scope: Scope = Scope.PULLREQUEST,
    ) -> RepoContext:
        """The destination repository for a caller (404 when absent or hidden)."""
        return self.repos.get(workspace, repo_slug, subject, level, scope=scope)

    def get(self, dest: RepoContext, number: int) -> PullRequestContext:
        row = self.store.get(dest.repo.id, number)
        if row is None:
            raise NotFound(f"pull request #{number} not found in {dest.full_name}")
        return self.context(dest, row)

    def context(self, dest: RepoContext, row: PullRequest) -> PullRequestContext:
        return load_pullrequest(self.store, self.repos.store, dest, row)

    def reload(self, ctx: PullRequestContext) -> PullRequestContext:
        self.session.flush()
        return self.context(ctx.destination, ctx.pr)

    def search(
        self,
        dest: RepoContext,
        *,
        states: Sequence[str] = (),
        q: str | None = None,
        sort: str | None = None,
        offset: int = 0,
        limit: int = 50,
        text: str | None = None,
    ) -> tuple[list[PullRequestContext], int]:
        """Pull requests of a repository: ``states`` (default OPEN, unless ``q`` names a state),
        a ``q`` filter (``state="MERGED" AND title ~ "x"``) and ``text`` found in the title."""
        wanted = [s.upper() for s in states]
        for s in wanted:
            if s not in STATES:
                raise BadRequest(f"state: must be one of {', '.join(STATES)}", field="state")
        conditions = []
        if q:
            node = bbql.parse(q)
            conditions.append(self.store.query_condition(node))
            if not wanted and "state" in bbql.fields(node):
                wanted = list(STATES)
        if not wanted:
            wanted = ["OPEN"]
        if sort is not None and sort.lstrip("-") not in self.store.sort_fields():
            raise BadRequest(
                f"sort: {sort!r} is not supported; use one of "
                + ", ".join(self.store.sort_fields()),
                field="sort",
            )
        rows, total = self.store.search(
            dest.repo.id,
            states=wanted,
            conditions=conditions,
            sort=sort,
            offset=offset,
            limit=limit,
            title_contains=text,
        )
        return load_pullrequests(self.store, self.repos.store, dest, rows), total

    def involving(self, subject: AuthSubject, limit: int = 20) -> list[PullRequestContext]:
        """Open pull requests the caller opened or is asked to review, in repositories they can
        still read (the dashboard)."""
        if subject.user_id is None:
            return []
        out: list[PullRequestContext] = []
        repos: dict[int, RepoContext | None] = {}
        for row in self.store.open_involving(subject.user_id, limit):
            if row.repository_id not in repos:
                repo = self.repos.store.by_id(row.repository_id)
                visible = repo is not None and self.repos.permission_of(subject, repo) >= (
                    Permission.READ
                )
                repos[row.repository_id] = self.repos.context(repo) if visible and repo else None
            dest = repos[row.repository_id]
            if dest is not None:
                out.append(self.context(dest, row))
        return out

    def count_by_state(self, dest: RepoContext) -> dict[str, int]:
        return self.store.count_by_state(dest.repo.id)

    # ---- helpers -------------------------------------------------------------------------------
    def git(self, ctx: PullRequestContext | RepoContext) -> GitRepo:
        repo = ctx.destination.repo if isinstance(ctx, PullRequestContext) else ctx.repo
        return self.repos.git(repo)

    def _actor(self, subject: AuthSubject) -> Actor:
        return self.repos.actor(subject)

    def _publish(
        self, key: EventKey, ctx: PullRequestContext, actor: Actor, payload: dict[str, Any]
    ) -> Event:
        return publish(
            self.session,
            key,
            workspace_id=ctx.destination.repo.workspace_id,
            repository_id=ctx.destination.repo.id,
            actor_user_id=actor.user_id,
            payload=payload,
        )

    def _publish_pr(self, key: EventKey, ctx: PullRequestContext, actor: Actor) -> Event:
        ctx = self.reload(ctx)
        return self._publish(
            key,
            ctx,
            actor,
            payloads.pullrequest_event_payload(ctx, self.repos.actor_payload(actor), self.urls),
        )

    @staticmethod
    def _require_open(ctx: PullRequestContext, action: str) -> None:
        if ctx.pr.state != "OPEN":
            raise BadRequest(
                f"pull request #{ctx.pr.number} is {ctx.pr.state}; only open pull requests "
                f"can be {action}"
            )

    def _touch(self, pr: PullRequest) -> None:
        pr.updated_at = utc_now()

    def _resolve_source_repo(
        self, subject: AuthSubject, dest: RepoContext, ref: str | None
    ) -> RepoContext:
        """The repository a pull request comes from: the destination itself, or a repository of
        the same fork family the caller can read."""
        if not ref or ref in (dest.full_name, dest.repo.uuid):
            return dest
        store = self.repos.store
        repo: Repository | None
        if "/" in ref:
            ws_slug, _, slug = ref.partition("/")
            ws = store.workspace(ws_slug)
            repo = store.by_slug(ws.id, slug) if ws else None
        else:
            repo = self.store.repository_by_uuid(ref)
        hidden = BadRequest(
            f"source.repository: repository {ref!r} not found", field="source.repository"
        )
        if repo is None or self.repos.permission_of(subject, repo) is Permission.NONE:
            raise hidden
        if self._family_root(repo) != self._family_root(dest.repo):
            raise BadRequest(
                f"source.repository: {ref} is not a fork of {dest.full_name} (or its parent)",
                field="source.repository",
            )
        if not subject.is_anonymous:
            subject.require_scope(Scope.PULLREQUEST_WRITE)
        return self.repos.context(repo)

    def _family_root(self, repo: Repository) -> int:
        seen = {repo.id}
        current = repo
        while current.fork_of_id is not None and current.fork_of_id not in seen:
            parent = self.repos.store.by_id(current.fork_of_id)
            if parent is None:
                break
            seen.add(parent.id)
            current = parent
        return current.id

    def _reviewers(
        self, dest: RepoContext, refs: Sequence[str | None], author_id: int | None
    ) -> list[User]:
        users: list[User] = []
        for ref in refs:
            if not ref:
                raise BadRequest(
                    "reviewers: name each reviewer by uuid, account_id or username",
                    field="reviewers",
                )
            user = self.store.user_by_reference(ref)
            if user is None:
                raise BadRequest(f"reviewers: no user {ref!r}", field="reviewers")
            if user.id == author_id:
                raise BadRequest(
                    f"reviewers: {user.display_name} is the author and cannot review",
                    field="reviewers",
                )
            as_subject = AuthSubject(kind="session", user_id=user.id, username=user.username)
            if self.repos.permission_of(as_subject, dest.repo) is Permission.NONE:
                raise BadRequest(
                    f"reviewers: {user.display_name} cannot see {dest.full_name}",
                    field="reviewers",
                )
            if user not in users:
                users.append(user)
        return users

    def _set_reviewers(self, pr: PullRequest, users: Sequence[User]) -> bool:
        """Make exactly ``users`` the reviewers; returns whether anything changed. A reviewer
        taken off who already reviewed stays as a participant."""
        current = {p.user_id: p for p in self.store.participants([pr.id])[pr.id]}
        wanted = {u.id for u in users}
        changed = False
        for user_id, row in current.items():
            if row.role == "REVIEWER" and user_id not in wanted:
                changed = True
                if row.state or row.participated_on:
                    row.role = "PARTICIPANT"
                else:
                    self.store.delete(row)
        for user in users:
            existing = current.get(user.id)
            if existing is None:
                self.store.add(
                    PullRequestParticipant(pullrequest_id=pr.id, user_id=user.id, role="REVIEWER")
                )
                changed = True
            elif existing.role != "REVIEWER":
                existing.role = "REVIEWER"
                changed = True
        self.session.flush()
        return changed

    def _participant(self, pr: PullRequest, user_id: int) -> PullRequestParticipant:
        row = self.store.participant(pr.id, user_id)
        if row is None:
            row = PullRequestParticipant(pullrequest_id=pr.id, user_id=user_id, role="PARTICIPANT")
            self.store.add(row)
        return row

    def _branch_tip(self, git: GitRepo, branch: str) -> str | None:
        ref = git.branch(branch)
        return ref.commit.hash if ref and ref.commit else None

    def _track_source(
        self, dest_git: GitRepo, number: int, source: RepoContext, branch: str
    ) -> str | None:
        """Point ``refs/pullrequests/<n>/from`` in the destination at the source branch's tip
        (fetching it from a fork) and return that commit, or None if the branch is gone."""
        hide_refs(dest_git, PR_REF_PREFIX)
        ref = pr_ref(number)
        source_git = self.repos.git(source.repo)
        if source_git.path == dest_git.path:
            tip = self._branch_tip(dest_git, branch)
            if tip is not None:
                dest_git.update_ref(ref, tip, reason=f"pull request #{number}")
            return tip
        return fetch_ref(dest_git, source_git, branch, ref)

    # ---- open and edit -------------------------------------------------------------------------
    def create(
        self,
        subject: AuthSubject,
        dest: RepoContext,
        *,
        title: str,
        source_branch: str | None,
        source_repository: str | None = None,
        destination_branch: str | None = None,
        description: str | None = None,
        close_source_branch: bool | None = None,
        reviewers: Sequence[str | None] | None = None,
    ) -> tuple[PullRequestContext, bool]:
        """Open a pull request (or, as Bitbucket does, update the open one with the same source
        and destination). Returns the pull request and whether it was created.
        Publishes ``pullrequest:created`` (or ``pullrequest:updated``).

        >>> ctx, created = svc.create(subject, dest, title="Add README",
        ...                           source_branch="feature/readme")
        """
        self.repos.require(subject, dest.repo, Permission.READ, scope=Scope.PULLREQUEST_WRITE)
        title = title.strip()
        if not title:
            raise BadRequest("title: must not be empty", field="title")
        if not source_branch:
            raise BadRequest(
                "source.branch.name: name the branch to merge", field="source.branch.name"
            )
        source = self._resolve_source_repo(subject, dest, source_repository)
        source_git = self.repos.git(source.repo)
        tip = self._branch_tip(source_git, source_branch)
        if tip is None:
            raise BadRequest(
                f"source.branch.name: branch {source_branch!r} not found in {source.full_name}",
                field="source.branch.name",
            )
        target = destination_branch or dest.repo.mainbranch
        if not target:
            raise BadRequest(
                f"destination.branch.name: {dest.full_name} has no main branch yet; name one",
                field="destination.branch.name",
            )
        dest_git = self.repos.git(dest.repo)
        dest_tip = self._branch_tip(dest_git, target)
        if dest_tip is None:
            raise BadRequest(
                f"destination.branch.name: branch {target!r} not found in {dest.full_name}",
                field="destination.branch.name",
            )
        if source.repo.id == dest.repo.id and source_branch == target:
            raise BadRequest(
                "source.branch.name: the source and destination branches are the same",
                field="source.branch.name",
            )
        actor = self._actor(subject)
        existing = self.store.open_between(dest.repo.id, source.repo.id, source_branch, target)
        if existing is not None:
            ctx = self.context(dest, existing)
            updated = self.update(
                subject,
                ctx,
                title=title,
                description=description,
                close_source_branch=close_source_branch,
                reviewers=reviewers,
            )
            return updated, False
        reviewer_users = self._reviewers(dest, reviewers or [], actor.user_id)
        self.store.lock_repository(dest.repo.id)
        number = self.store.next_number(dest.repo.id)
        try:
            tracked = self._track_source(dest_git, number, source, source_branch)
        except GitError as exc:
            raise BadRequest(f"source.branch.name: cannot read {source_branch!r}: {exc}") from exc
        if tracked is None:
            raise BadRequest(
                f"source.branch.name: branch {source_branch!r} not found in {source.full_name}",
                field="source.branch.name",
            )
        ref = pr_ref(number)
        on_rollback(self.session, lambda: _drop_ref(dest_git, ref, tracked))
        if dest_git.is_ancestor(tracked, dest_tip):
            raise BadRequest(
                f"source.branch.name: there are no changes to be pulled: {target!r} already "
                f"contains {source_branch!r}",
                field="source.branch.name",
            )
        pr = PullRequest(
            repository_id=dest.repo.id,
            number=number,
            title=title,
            description=description or "",
            state="OPEN",
            author_user_id=actor.user_id,
            author_workspace_id=actor.workspace.id if actor.workspace else None,
            source_repository_id=source.repo.id,
            source_branch=source_branch,
            source_commit=tracked,
            destination_branch=target,
            destination_commit=dest_tip,
            close_source_branch=bool(close_source_branch),
            reason="",
        )
        self.store.add(pr)
        self._set_reviewers(pr, reviewer_users)
        ctx = self.context(dest, pr)
        self._publish_pr(EventKey.PULLREQUEST_CREATED, ctx, actor)
        return self.reload(ctx), True

    def can_edit(self, subject: AuthSubject, ctx: PullRequestContext) -> bool:
        if subject.user_id is not None and subject.user_id == ctx.pr.author_user_id:
            return True
        if subject.workspace_id is not None and subject.workspace_id == ctx.pr.author_workspace_id:
            return True
        return self.repos.permission_of(subject, ctx.destination.repo) >= Permission.WRITE

    def update(
        self,
        subject: AuthSubject,
        ctx: PullRequestContext,
        *,
        title: str | None = None,
        description: str | None = None,
        destination_branch: str | None = None,
        close_source_branch: bool | None = None,
        reviewers: Sequence[str | None] | None = None,
    ) -> PullRequestContext:
        """Change an open pull request (its author or a writer). Publishes
        ``pullrequest:updated`` when something changed."""
        self.repos.require(
            subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST_WRITE
        )
        if not self.can_edit(subject, ctx):
            raise Forbidden("only the author or someone with write access can edit this")
        self._require_open(ctx, "edited")
        pr = ctx.pr
        changed = False
        if title is not None:
            title = title.strip()
            if not title:
                raise BadRequest("title: must not be empty", field="title")
            if title != pr.title:
                pr.title, changed = title, True
        if description is not None and description != pr.description:
            pr.description, changed = description, True
        if close_source_branch is not None and close_source_branch != pr.close_source_branch:
            pr.close_source_branch, changed = close_source_branch, True
        if destination_branch is not None and destination_branch != pr.destination_branch:
            git = self.git(ctx)
            tip = self._branch_tip(git, destination_branch)
            if tip is None:
                raise BadRequest(
                    f"destination.branch.name: branch {destination_branch!r} not found",
                    field="destination.branch.name",
                )
            if (
                pr.source_repository_id == pr.repository_id
                and destination_branch == pr.source_branch
            ):
                raise BadRequest(
                    "destination.branch.name: the source and destination branches are the same",
                    field="destination.branch.name",
                )
            pr.destination_branch, pr.destination_commit, changed = destination_branch, tip, True
        if reviewers is not None:
            users = self._reviewers(ctx.destination, reviewers, pr.author_user_id)
            changed = self._set_reviewers(pr, users) or changed
        if not changed:
            return self.reload(ctx)
        self._touch(pr)
        self._publish_pr(EventKey.PULLREQUEST_UPDATED, ctx, self._actor(subject))
        return self.reload(ctx)

    # ---- reviews -------------------------------------------------------------------------------
    def _reviewer(self, subject: AuthSubject, ctx: PullRequestContext, action: str) -> User:
        self.repos.require(
            subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST_WRITE
        )
        self._require_open(ctx, action)
        if subject.user_id is None:
            raise BadRequest("only a user account can review a pull request")
        user = self.repos.store.user_by_id(subject.user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    def _review(
        self,
        subject: AuthSubject,
        ctx: PullRequestContext,
        state: str | None,
        action: str,
    ) -> tuple[PullRequestContext, PullRequestParticipant]:
        user = self._reviewer(subject, ctx, action)
        row = self._participant(ctx.pr, user.id)
        previous = row.state
        if previous == state:
            return self.reload(ctx), row
        now = utc_now()
        row.state = state
        row.participated_on = now
        self._touch(ctx.pr)
        self.session.flush()
        actor = self._actor(subject)
        review = approval_read(user, now, self.urls)
        removed = {
            "approved": (EventKey.PULLREQUEST_UNAPPROVED, "approval"),
            "changes_requested": (EventKey.PULLREQUEST_CHANGES_REQUEST_REMOVED, "changes_request"),
        }
        added = {
            "approved": (EventKey.PULLREQUEST_APPROVED, "approval"),
            "changes_requested": (EventKey.PULLREQUEST_CHANGES_REQUEST_CREATED, "changes_request"),
        }
        fresh = self.reload(ctx)
        actor_payload = self.repos.actor_payload(actor)
        for table, value in ((removed, previous), (added, state)):
            if value in table:
                key, field = table[value]
                self._publish(
                    key,
                    fresh,
                    actor,
                    payloads.review_event_payload(fresh, actor_payload, field, review, self.urls),
                )
        return fresh, row

    def approve(
        self, subject: AuthSubject, ctx: PullRequestContext
    ) -> tuple[PullRequestContext, PullRequestParticipant]:
        """Approve as the caller (replaces their change request). ``pullrequest:approved``."""
        return self._review(subject, ctx, "approved", "approved")

    def unapprove(self, subject: AuthSubject, ctx: PullRequestContext) -> PullRequestContext:
        user = self._reviewer(subject, ctx, "unapproved")
        row = self.store.participant(ctx.pr.id, user.id)
        if row is None or row.state != "approved":
            return self.reload(ctx)
        return self._review(subject, ctx, None, "unapproved")[0]

    def request_changes(
        self, subject: AuthSubject, ctx: PullRequestContext
    ) -> tuple[PullRequestContext, PullRequestParticipant]:
        """Request changes as the caller (replaces their approval).
        ``pullrequest:changes_request_created``."""
        return self._review(subject, ctx, "changes_requested", "reviewed")

    def remove_change_request(
        self, subject: AuthSubject, ctx: PullRequestContext
    ) -> PullRequestContext:
        user = self._reviewer(subject, ctx, "reviewed")
        row = self.store.participant(ctx.pr.id, user.id)
        if row is None or row.state != "changes_requested":
            return self.reload(ctx)
        return self._review(subject, ctx, None, "reviewed")[0]

    # ---- decline -------------------------------------------------------------------------------
    def decline(
        self, subject: AuthSubject, ctx: PullRequestContext, reason: str = ""
    ) -> PullRequestContext:
        """Close without merging (its author or a writer). ``pullrequest:rejected``."""
        self.repos.require(
            subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST_WRITE
        )
        if not self.can_edit(subject, ctx):
            raise Forbidden("only the author or someone with write access can decline this")
        self._require_open(ctx, "declined")
        pr = ctx.pr
        pr.state = "DECLINED"
        pr.reason = reason.strip()
        pr.closed_by_user_id = subject.user_id
        pr.closed_at = utc_now()
        self._touch(pr)
        self._publish_pr(EventKey.PULLREQUEST_REJECTED, ctx, self._actor(subject))
        return self.reload(ctx)

    # ---- merge ---------------------------------------------------------------------------------
    def merge(
        self,
        subject: AuthSubject,
        ctx: PullRequestContext,
        *,
        strategy: str | None = None,
        message: str | None = None,
        close_source_branch: bool | None = None,
    ) -> PullRequestContext:
        """Merge with git (merge_commit, squash or fast_forward) and move the destination branch
        with a compare-and-swap. Conflicts, a branch that moved meanwhile, or a fast-forward that
        is not possible are a 409 and change nothing. Publishes ``repo:push`` for the ref
        changes and ``pullrequest:fulfilled``.

        >>> svc.merge(subject, ctx, strategy="squash", close_source_branch=True)
        """
        self.repos.require(
            subject, ctx.destination.repo, Permission.WRITE, scope=Scope.PULLREQUEST_WRITE
        )
        self._require_open(ctx, "merged")
        strategy = strategy or "merge_commit"
        if strategy not in MERGE_STRATEGIES:
            raise BadRequest(
                f"merge_strategy: must be one of {', '.join(MERGE_STRATEGIES)}",
                field="merge_strategy",
            )
        pr = ctx.pr
        git = self.git(ctx)
        if ctx.source is None:
            raise BadRequest("the repository this pull request came from no longer exists")
        source_tip = self._track_source(git, pr.number, ctx.source, pr.source_branch)
        if source_tip is None:
            raise BadRequest(
                f"the source branch {pr.source_branch!r} no longer exists; the pull request "
                "cannot be merged"
            )
        if source_tip != pr.source_commit:
            pr.source_commit = source_tip
        dest_ref = f"refs/heads/{pr.destination_branch}"
        dest_tip = self._branch_tip(git, pr.destination_branch)
        if dest_tip is None:
            raise BadRequest(f"the destination branch {pr.destination_branch!r} no longer exists")
        actor = self._actor(subject)
        outcome = self._merge_objects(ctx, git, strategy, message, source_tip, dest_tip, actor)
        close = pr.close_source_branch if close_source_branch is None else close_source_branch
        updates = []
        if outcome.destination != dest_tip:
            updates.append(RefUpdate(dest_tip, outcome.destination, dest_ref))
        deleting_source = (
            close and not ctx.is_fork and self._branch_tip(git, pr.source_branch) == source_tip
        )
        if deleting_source:
            updates.append(RefUpdate(source_tip, ZERO, f"refs/heads/{pr.source_branch}"))
        pr.state = "MERGED"
        pr.merge_commit = outcome.merge_commit
        pr.destination_commit = dest_tip
        pr.close_source_branch = bool(close)
        pr.closed_by_user_id = subject.user_id
        pr.closed_at = utc_now()
        self._touch(pr)
        self.session.flush()
        if updates:
            self._apply_ref_updates(ctx.destination, actor, updates, git)
        self._publish_pr(EventKey.PULLREQUEST_FULFILLED, ctx, actor)
        return self.reload(ctx)

    def _merge_message(
        self, ctx: PullRequestContext, strategy: str, message: str | None, commits: list[Commit]
    ) -> str:
        if message and message.strip():
            return message.strip()
        pr = ctx.pr
        if strategy == "squash":
            lines = [f"{pr.title} (pull request #{pr.number})", ""]
            if pr.description.strip():
                lines += [pr.description.strip(), ""]
            lines += [f"* {c.summary}" for c in commits[:MAX_SQUASH_SUMMARIES]]
            return "\n".join(lines).strip()
        text = f"Merged in {ctx.source_label} (pull request #{pr.number})\n\n{pr.title}"
        if pr.description.strip():
            text += "\n\n" + pr.description.strip()
        return text

    def _merge_objects(
        self,
        ctx: PullRequestContext,
        git: GitRepo,
        strategy: str,
        message: str | None,
        source: str,
        dest: str,
        actor: Actor,
    ) -> MergeOutcome:
        """Compute the merge without touching refs; objects land only when it is clean."""
        branch = ctx.pr.destination_branch
        if git.is_ancestor(source, dest):
            return MergeOutcome(destination=dest, merge_commit=None)
        if strategy == "fast_forward":
            if not git.is_ancestor(dest, source):
                raise Conflict(
                    f"{branch!r} has commits that {ctx.pr.source_branch!r} does not; it cannot "
                    "be fast-forwarded. Merge with a merge commit or squash, or rebase the "
                    "source branch.",
                    data={"merge_strategy": strategy},
                )
            return MergeOutcome(destination=source, merge_commit=source)
        committer = actor.identity()
        author = committer
        if strategy == "squash" and ctx.author is not None:
            author = Identity(
                ctx.author.display_name, ctx.author.email or f"{ctx.author.username}@users.noreply"
            )
        commits = (
            git.log([source], [dest], limit=MAX_SQUASH_SUMMARIES) if strategy == "squash" else []
        )
        text = self._merge_message(ctx, strategy, message, commits)
        with quarantine(git) as q:
            try:
                result = merge_trees(q.git, dest, source)
            except MergeFailed as exc:
                raise Conflict(
                    f"pull request #{ctx.pr.number} cannot be merged: {exc.message}"
                ) from exc
            if not result.clean or result.tree is None:
                files = ", ".join(result.conflicts[:20]) or "(unknown paths)"
                raise Conflict(
                    f"pull request #{ctx.pr.number} has merge conflicts in {files}; resolve them "
                    f"on the source branch (merge {branch!r} into it) and try again",
                    data={"conflicts": list(result.conflicts)},
                )
            parents = [dest, source] if strategy == "merge_commit" else [dest]
            commit = commit_tree(q.git, result.tree, parents, text, author, committer)
            q.migrate()
        return MergeOutcome(destination=commit, merge_commit=commit)

    def _apply_ref_updates(
        self, dest: RepoContext, actor: Actor, updates: list[RefUpdate], git: GitRepo
    ) -> None:
        """Journal the ref changes, apply them with compare-and-swap, publish ``repo:push``."""
        record = PushRecord(
            repository_id=dest.repo.id,
            updates=updates,
            actor_user_id=actor.user_id,
            actor_workspace_id=actor.workspace.id if actor.workspace else None,
        )
        path = journal_ref_updates(self.session, self.settings, record)
        done: list[RefUpdate] = []
        try:
            for update in updates:
                if update.deleted:
                    try:
                        git.delete_ref(update.ref, update.old)
                    except RefConflict:
                        continue  # the source branch moved: keep it, the merge still stands
                else:
                    git.update_ref(update.ref, update.new, update.old, reason="pull request merge")
                done.append(update)
        except RefConflict as exc:
            for update in reversed(done):
                _undo(git, update)
            path.unlink(missing_ok=True)
            raise Conflict(
                f"{update.name!r} moved while the merge was being made (someone pushed); "
                "nothing was changed, try again",
                data={"ref": update.ref},
            ) from exc
        except GitError:
            for update in reversed(done):
                _undo(git, update)
            path.unlink(missing_ok=True)
            raise
        # Git is the truth from here on: if this transaction rolls back, the journal stays and
        # the spool drain publishes the push later, and track_push then marks the pull request
        # merged because its commits are on the destination branch.
        record.updates = done
        record_push(self.session, self.settings, record, git=git)

    # ---- comments ------------------------------------------------------------------------------
    def comments(
        self, ctx: PullRequestContext, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[tuple[PullRequestComment, User | None, Any]], int]:
        rows, total = self.store.comments(ctx.pr.id, offset=offset, limit=limit)
        return self._with_authors(rows), total

    def _with_authors(
        self, rows: list[PullRequestComment]
    ) -> list[tuple[PullRequestComment, User | None, Any]]:
        users = self.store.users_by_ids(r.user_id for r in rows)
        workspaces = self.store.workspaces_by_ids(r.author_workspace_id for r in rows)
        return [
            (
                r,
                users.get(r.user_id) if r.user_id else None,
                workspaces.get(r.author_workspace_id) if r.author_workspace_id else None,
            )
            for r in rows
        ]

    def comment(
        self, ctx: PullRequestContext, comment_id: int
    ) -> tuple[PullRequestComment, User | None, Any]:
        row = self.store.comment(ctx.pr.id, comment_id)
        if row is None or row.deleted:
            raise NotFound(f"comment {comment_id} not found on pull request #{ctx.pr.number}")
        return self._with_authors([row])[0]

    def _comment_event(
        self,
        key: EventKey,
        ctx: PullRequestContext,
        actor: Actor,
        row: PullRequestComment,
    ) -> None:
        fresh = self.reload(ctx)
        author, workspace = self._with_authors([row])[0][1:]
        body = comment_read(fresh, row, author, self.urls, workspace)
        self._publish(
            key,
            fresh,
            actor,
            payloads.comment_event_payload(fresh, self.repos.actor_payload(actor), body, self.urls),
        )

    def add_comment(
        self,
        subject: AuthSubject,
        ctx: PullRequestContext,
        raw: str,
        *,
        inline_path: str | None = None,
        inline_from: int | None = None,
        inline_to: int | None = None,
        parent_id: int | None = None,
    ) -> PullRequestComment:
        """Comment (inline when ``inline_path`` names a file of the diff). Anyone who can read
        the repository may. ``pullrequest:comment_created``."""
        self.repos.require(subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST)
        if subject.is_anonymous:
            raise Forbidden("log in to comment")
        if not raw.strip():
            raise BadRequest("content.raw: a comment needs some text", field="content.raw")
        if parent_id is not None:
            parent = self.store.comment(ctx.pr.id, parent_id)
            if parent is None:
                raise BadRequest(
                    f"parent.id: no comment {parent_id} on this pull request", field="parent.id"
                )
        if inline_path is not None:
            paths = {p for c in self.diffstat(ctx) for p in (c.old_path, c.new_path) if p}
            if inline_path not in paths:
                raise BadRequest(
                    f"inline.path: {inline_path!r} is not changed by this pull request",
                    field="inline.path",
                )
        actor = self._actor(subject)
        row = PullRequestComment(
            pullrequest_id=ctx.pr.id,
            user_id=actor.user_id,
            author_workspace_id=actor.workspace.id if actor.workspace else None,
            parent_id=parent_id,
            content=raw,
            inline_path=inline_path,
            inline_from=inline_from if inline_path else None,
            inline_to=inline_to if inline_path else None,
        )
        self.store.add(row)
        if actor.user_id is not None and actor.user_id != ctx.pr.author_user_id:
            self._participant(ctx.pr, actor.user_id).participated_on = utc_now()
        self._touch(ctx.pr)
        self._comment_event(EventKey.PULLREQUEST_COMMENT_CREATED, ctx, actor, row)
        return row

    def _own_comment(self, subject: AuthSubject, row: PullRequestComment) -> bool:
        if subject.user_id is not None and row.user_id == subject.user_id:
            return True
        return subject.workspace_id is not None and row.author_workspace_id == subject.workspace_id

    def edit_comment(
        self, subject: AuthSubject, ctx: PullRequestContext, comment_id: int, raw: str
    ) -> PullRequestComment:
        """Change a comment's text (its author only). ``pullrequest:comment_updated``."""
        self.repos.require(subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST)
        row = self.comment(ctx, comment_id)[0]
        if not self._own_comment(subject, row):
            raise Forbidden("only the author of a comment can edit it")
        if not raw.strip():
            raise BadRequest("content.raw: a comment needs some text", field="content.raw")
        if raw != row.content:
            row.content = raw
            row.updated_at = utc_now()
            self.session.flush()
            self._comment_event(
                EventKey.PULLREQUEST_COMMENT_UPDATED, ctx, self._actor(subject), row
            )
        return row

    def delete_comment(
        self, subject: AuthSubject, ctx: PullRequestContext, comment_id: int
    ) -> None:
        """Delete a comment (its author or a repository admin). ``pullrequest:comment_deleted``."""
        self.repos.require(subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST)
        row = self.comment(ctx, comment_id)[0]
        admin = self.repos.permission_of(subject, ctx.destination.repo) >= Permission.ADMIN
        if not (self._own_comment(subject, row) or admin):
            raise Forbidden("only the author of a comment or an admin can delete it")
        row.deleted = True
        row.updated_at = utc_now()
        self.session.flush()
        self._comment_event(EventKey.PULLREQUEST_COMMENT_DELETED, ctx, self._actor(subject), row)

    # ---- tasks ---------------------------------------------------------------------------------
    def tasks(
        self, ctx: PullRequestContext, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[PullRequestTask], int, dict[int, User]]:
        rows, total = self.store.tasks(ctx.pr.id, offset=offset, limit=limit)
        users = self.store.users_by_ids(
            [r.creator_user_id for r in rows] + [r.resolved_by_user_id for r in rows]
        )
        return rows, total, users

    def task(self, ctx: PullRequestContext, task_id: int) -> PullRequestTask:
        row = self.store.task(ctx.pr.id, task_id)
        if row is None:
            raise NotFound(f"task {task_id} not found on pull request #{ctx.pr.number}")
        return row

    def add_task(self, subject: AuthSubject, ctx: PullRequestContext, raw: str) -> PullRequestTask:
        self.repos.require(subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST)
        if subject.is_anonymous:
            raise Forbidden("log in to add tasks")
        if not raw.strip():
            raise BadRequest("content.raw: a task needs some text", field="content.raw")
        row = PullRequestTask(
            pullrequest_id=ctx.pr.id, creator_user_id=subject.user_id, content=raw
        )
        self.store.add(row)
        self._touch(ctx.pr)
        return row

    def update_task(
        self,
        subject: AuthSubject,
        ctx: PullRequestContext,
        task_id: int,
        *,
        raw: str | None = None,
        state: str | None = None,
    ) -> PullRequestTask:
        """Resolve/reopen (anyone who can read) or reword (its creator) a task."""
        self.repos.require(subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST)
        if subject.is_anonymous:
            raise Forbidden("log in to change tasks")
        row = self.task(ctx, task_id)
        if raw is not None and raw != row.content:
            if row.creator_user_id != subject.user_id:
                raise Forbidden("only the creator of a task can reword it")
            if not raw.strip():
                raise BadRequest("content.raw: a task needs some text", field="content.raw")
            row.content = raw
        if state is not None and state != row.state:
            row.state = state
            row.resolved_by_user_id = subject.user_id if state == "RESOLVED" else None
            row.resolved_at = utc_now() if state == "RESOLVED" else None
        row.updated_at = utc_now()
        self.session.flush()
        return row

    def delete_task(self, subject: AuthSubject, ctx: PullRequestContext, task_id: int) -> None:
        self.repos.require(subject, ctx.destination.repo, Permission.READ, scope=Scope.PULLREQUEST)
        row = self.task(ctx, task_id)
        writer = self.repos.permission_of(subject, ctx.destination.repo) >= Permission.WRITE
        if not (writer or (subject.user_id is not None and row.creator_user_id == subject.user_id)):
            raise Forbidden("only the creator of a task or a writer can delete it")
        self.store.delete(row)

    # ---- git views -----------------------------------------------------------------------------
    def base(self, ctx: PullRequestContext) -> str:
        """The commit the pull request's changes are compared with: the merge base of source
        and destination (the destination tip when they share no history)."""
        git = self.git(ctx)
        return git.merge_base(ctx.pr.source_commit, ctx.pr.destination_commit) or (
            ctx.pr.destination_commit
        )

    def commits(
        self, ctx: PullRequestContext, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[Commit], int]:
        """The pull request's own commits (source minus destination), newest first."""
        git = self.git(ctx)
        include, exclude = [ctx.pr.source_commit], [ctx.pr.destination_commit]
        try:
            rows = git.log(include, exclude, skip=offset, limit=limit)
            total = git.count(include, exclude)
        except GitError as exc:
            log.warning("commits of pull request %s: %s", ctx.pr.id, exc)
            return [], 0
        return rows, total

    def mergeable(self, ctx: PullRequestContext) -> dict[str, Any]:
        """Whether the pull request merges cleanly now, computed in a quarantine that is thrown
        away: ``{"clean", "conflicts", "fast_forward", "up_to_date"}``."""
        git = self.git(ctx)
        source = ctx.pr.source_commit
        # The live tip: a push the listener has not seen yet must not hide a conflict.
        dest = self._branch_tip(git, ctx.pr.destination_branch) or ctx.pr.destination_commit
        out: dict[str, Any] = {
            "clean": True,
            "conflicts": [],
            "fast_forward": git.is_ancestor(dest, source),
            "up_to_date": git.is_ancestor(source, dest),
        }
        if out["fast_forward"] or out["up_to_date"]:
            return out
        try:
            with quarantine(git) as q:
                result = merge_trees(q.git, dest, source)
        except GitError as exc:
            return {**out, "clean": False, "conflicts": [], "error": exc.message}
        out["clean"] = result.clean
        out["conflicts"] = list(result.conflicts)
        return out

    def member_ids(self, dest: RepoContext) -> list[int]:
        """Accounts that may review: members of the destination's workspace."""
        return self.store.member_ids(dest.repo.workspace_id)

    def activity_comments(
        self, ctx: PullRequestContext
    ) -> list[tuple[PullRequestComment, User | None, Any]]:
        return self.comments(ctx, limit=1000)[0]

    def diff_revisions(self, ctx: PullRequestContext) -> tuple[str, str]:
        return self.base(ctx), ctx.pr.source_commit

    def diffstat(self, ctx: PullRequestContext) -> list[FileChange]:
        old, new = self.diff_revisions(ctx)
        return self.git(ctx).diffstat(old, new)

    def statuses(
        self, ctx: PullRequestContext, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[CommitStatus], int]:
        """Build statuses of the source commit (reported on either repository)."""
        repo_ids = [ctx.destination.repo.id]
        if ctx.source is not None and ctx.source.repo.id not in repo_ids:
            repo_ids.append(ctx.source.repo.id)
        return self.store.statuses_for(repo_ids, ctx.pr.source_commit, offset=offset, limit=limit)

    def activity(self, ctx: PullRequestContext) -> list[tuple[datetime, str, Any]]:
        """What happened, oldest first: ``("update", state)``, ``("approval", participation)``,
        ``("changes_request", participation)``, ``("comment", (row, user, workspace))``."""
        items: list[tuple[datetime, str, Any]] = [(ctx.pr.created_at, "update", "OPEN")]
        for p in ctx.participants:
            when = p.row.participated_on
            if when is not None and p.row.state == "approved":
                items.append((when, "approval", p))
            elif when is not None and p.row.state == "changes_requested":
                items.append((when, "changes_request", p))
        rows, _ = self.store.comments(ctx.pr.id, limit=1000)
        items += [(r[0].created_at, "comment", r) for r in self._with_authors(rows)]
        if ctx.pr.state != "OPEN" and ctx.pr.closed_at is not None:
            items.append((ctx.pr.closed_at, "update", ctx.pr.state))
        return sorted(items, key=lambda i: i[0])

    # ---- following pushes ----------------------------------------------------------------------
    def track_push(self, event: Event) -> None:
        """React to a published ``repo:push`` (see the module docstring)."""
        repo = self.repos.store.by_id(event.repository_id) if event.repository_id else None
        if repo is None:
            return
        changes = (event.payload.get("push") or {}).get("changes") or []
        actor_payload = event.payload.get("actor") or {}
        for change in changes:
            new, old = change.get("new"), change.get("old")
            ref = new or old or {}
            if ref.get("type") != "branch":
                continue
            name = str(ref.get("name"))
            tip = ((new or {}).get("target") or {}).get("hash") if new else None
            for pr in self.store.open_from(repo.id, name):
                self._guarded(pr, self._source_moved, tip, event, actor_payload)
            for pr in self.store.open_into(repo.id, name):
                self._guarded(pr, self._destination_moved, tip, event, actor_payload)

    def _guarded(self, pr: PullRequest, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(pr, *args)`` in a savepoint; a failure is logged, never raised (the push it
        follows has already happened)."""
        try:
            with self.session.begin_nested():
                fn(pr, *args)
        except Exception:
            log.exception("following a push for pull request %s failed", pr.id)

    def _pr_context(self, pr: PullRequest) -> PullRequestContext | None:
        dest = self.repos.store.by_id(pr.repository_id)
        return self.context(self.repos.context(dest), pr) if dest is not None else None

    def _system_publish(
        self, key: EventKey, ctx: PullRequestContext, event: Event, actor_payload: dict[str, Any]
    ) -> None:
        fresh = self.reload(ctx)
        publish(
            self.session,
            key,
            workspace_id=fresh.destination.repo.workspace_id,
            repository_id=fresh.destination.repo.id,
            actor_user_id=event.actor_user_id,
            payload=payloads.pullrequest_event_payload(fresh, actor_payload, self.urls),
        )

    def _source_moved(
        self, pr: PullRequest, tip: str | None, event: Event, actor_payload: dict[str, Any]
    ) -> None:
        ctx = self._pr_context(pr)
        if ctx is None or ctx.source is None:
            return
        git = self.git(ctx)
        if tip is None:
            self._source_deleted(ctx, event, actor_payload)
            return
        tracked = self._track_source(git, pr.number, ctx.source, pr.source_branch)
        if tracked is None or tracked == pr.source_commit:
            return
        pr.source_commit = tracked
        self._touch(pr)
        self.session.flush()
        if git.is_ancestor(tracked, pr.destination_commit):
            self._close_as(ctx, "MERGED", event, actor_payload)
            return
        self._system_publish(EventKey.PULLREQUEST_UPDATED, ctx, event, actor_payload)

    def _source_deleted(
        self, ctx: PullRequestContext, event: Event, actor_payload: dict[str, Any]
    ) -> None:
        git = self.git(ctx)
        pr = ctx.pr
        for other in self.store.open_into(pr.repository_id, pr.destination_branch):
            if other.id != pr.id and git.is_ancestor(pr.source_commit, other.source_commit):
                pr.reason = f"Superseded by pull request #{other.number}."
                self._close_as(ctx, "SUPERSEDED", event, actor_payload)
                return
        pr.reason = f"The source branch {pr.source_branch!r} was deleted."
        self._close_as(ctx, "DECLINED", event, actor_payload)

    def _destination_moved(
        self, pr: PullRequest, tip: str | None, event: Event, actor_payload: dict[str, Any]
    ) -> None:
        ctx = self._pr_context(pr)
        if ctx is None:
            return
        if tip is None:
            pr.reason = f"The destination branch {pr.destination_branch!r} was deleted."
            self._close_as(ctx, "DECLINED", event, actor_payload)
            return
        if tip == pr.destination_commit:
            return
        git = self.git(ctx)
        if git.is_ancestor(pr.source_commit, tip):
            # Its commits reached the destination some other way: Bitbucket calls that merged.
            pr.destination_commit = tip
            self._close_as(ctx, "MERGED", event, actor_payload)
            return
        pr.destination_commit = tip
        self.session.flush()

    def _close_as(
        self,
        ctx: PullRequestContext,
        state: str,
        event: Event,
        actor_payload: dict[str, Any],
    ) -> None:
        pr = ctx.pr
        pr.state = state
        pr.closed_by_user_id = event.actor_user_id
        pr.closed_at = utc_now()
        self._touch(pr)
        self.session.flush()
        key = {
            "MERGED": EventKey.PULLREQUEST_FULFILLED,
            "DECLINED": EventKey.PULLREQUEST_REJECTED,
            "SUPERSEDED": EventKey.PULLREQUEST_REJECTED,
        }[state]
        self._system_publish(key, ctx, event, actor_payload)


def _drop_ref(git: GitRepo, ref: str, expected: str) -> None:
    with contextlib.suppress(GitError):
        git.delete_ref(ref, expected)


def _undo(git: GitRepo, update: RefUpdate) -> None:
    """Put a ref back where it was (only if nobody moved it since)."""
    try:
        if update.deleted:
            git.update_ref(update.ref, update.old, ZERO, reason="undo")
        elif update.created:
            git.delete_ref(update.ref, update.new)
        else:
            git.update_ref(update.ref, update.old, update.new, reason="undo")
    except GitError:
        log.warning("could not undo %s %s..%s", update.ref, update.old, update.new)


def track_push(session: Session, settings: Settings, event: Event) -> None:
    """The push listener (:func:`appdock.repo.push.on_push`) registered by
    :func:`appdock.subscribers.register`."""
    PullRequestService(session, settings).track_push(event)
