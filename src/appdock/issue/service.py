"""Rules for the issue tracker. Methods flush; the caller commits.

Invariants:
- Reading needs read access to the repository and the ``issue`` scope; filing issues and
  commenting need ``issue:write`` and an account; changing an issue needs ``issue:write`` and to
  be its reporter or a writer; deleting one needs write access. A repository whose tracker is
  off (``has_issues`` false) has no issues to see (404).
- Every edit records an :class:`IssueChange` with the fields that changed (``{old, new}``
  strings) and publishes ``issue:updated`` with those ``changes`` in the same transaction;
  ``issue:created`` and ``issue:comment_created`` likewise.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core import bbql
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.event.service import EventKey, publish
from appdock.issue import payloads
from appdock.issue.context import IssueContext, load_issue, load_issues
from appdock.issue.schemas import (
    KINDS,
    PRIORITIES,
    STATES,
    issue_comment_read,
)
from appdock.issue.store import IssueStore
from appdock.models import Issue, IssueChange, IssueComment, User
from appdock.repo.context import RepoContext
from appdock.repo.service import Permission, RepoService

UNSET: Any = object()


class IssueService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repos = RepoService(session, settings)
        self.store = IssueStore(session)
        self.urls = Urls(settings.base_url)

    # ---- lookups -------------------------------------------------------------------------------
    def repository(
        self,
        workspace: str,
        repo_slug: str,
        subject: AuthSubject,
        *,
        scope: Scope = Scope.ISSUE,
    ) -> RepoContext:
        ctx = self.repos.get(workspace, repo_slug, subject, Permission.READ, scope=scope)
        if not ctx.repo.has_issues:
            raise NotFound(f"repository {ctx.full_name!r} has no issue tracker")
        return ctx

    def get(self, repo: RepoContext, number: int) -> IssueContext:
        row = self.store.get(repo.repo.id, number)
        if row is None:
            raise NotFound(f"issue #{number} not found in {repo.full_name}")
        return load_issue(self.store, repo, row)

    def reload(self, ctx: IssueContext) -> IssueContext:
        self.session.flush()
        return load_issue(self.store, ctx.repo, ctx.issue)

    def search(
        self,
        repo: RepoContext,
        *,
        q: str | None = None,
        sort: str | None = None,
        states: list[str] | None = None,
        offset: int = 0,
        limit: int = 50,
        text: str | None = None,
    ) -> tuple[list[IssueContext], int]:
        conditions = []
        if q:
            conditions.append(self.store.query_condition(bbql.parse(q)))
        if states:
            for s in states:
                if s not in STATES:
                    raise BadRequest(f"state: must be one of {', '.join(STATES)}", field="state")
        if sort is not None and sort.lstrip("-") not in self.store.sort_fields():
            raise BadRequest(
                f"sort: {sort!r} is not supported; use one of "
                + ", ".join(self.store.sort_fields()),
                field="sort",
            )
        rows, total = self.store.search(
            repo.repo.id,
            conditions=conditions,
            states=states or (),
            sort=sort,
            offset=offset,
            limit=limit,
            title_contains=text,
        )
        return load_issues(self.store, repo, rows), total

    def count_by_state(self, repo: RepoContext) -> dict[str, int]:
        return self.store.count_by_state(repo.repo.id)

    def member_users(self, repo: RepoContext) -> list[User]:
        """People an issue can be assigned to from the pages: the workspace's members."""
        return self.store.members(repo.repo.workspace_id)

    # ---- helpers -------------------------------------------------------------------------------
    def _require(self, subject: AuthSubject, repo: RepoContext, scope: Scope) -> Permission:
        perm = self.repos.require(subject, repo.repo, Permission.READ, scope=scope)
        if subject.is_anonymous or subject.user_id is None:
            raise Forbidden("log in with a user account to change the issue tracker")
        return perm

    def _assignee(self, repo: RepoContext, ref: str | None) -> User | None:
        if ref is None or ref == "":
            return None
        user = self.store.user_by_reference(ref)
        if user is None:
            raise BadRequest(f"assignee: no user {ref!r}", field="assignee")
        as_subject = AuthSubject(kind="session", user_id=user.id, username=user.username)
        if self.repos.permission_of(as_subject, repo.repo) is Permission.NONE:
            raise BadRequest(
                f"assignee: {user.display_name} cannot see {repo.full_name}", field="assignee"
            )
        return user

    @staticmethod
    def _check(field: str, value: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise BadRequest(f"{field}: must be one of {', '.join(allowed)}", field=field)
        return value

    def _publish(
        self, key: EventKey, ctx: IssueContext, actor_id: int | None, payload: Any
    ) -> None:
        publish(
            self.session,
            key,
            workspace_id=ctx.repo.repo.workspace_id,
            repository_id=ctx.repo.repo.id,
            actor_user_id=actor_id,
            payload=payload,
        )

    def _actor_payload(self, subject: AuthSubject) -> dict[str, Any]:
        return self.repos.actor_payload(self.repos.actor(subject))

    # ---- issues --------------------------------------------------------------------------------
    def create(
        self,
        subject: AuthSubject,
        repo: RepoContext,
        *,
        title: str,
        content: str = "",
        kind: str = "bug",
        priority: str = "major",
        state: str = "new",
        assignee: str | None = None,
    ) -> IssueContext:
        """File an issue. Publishes ``issue:created``.

        >>> ctx = svc.create(subject, repo, title="Crash on start", kind="bug")
        """
        self._require(subject, repo, Scope.ISSUE_WRITE)
        title = title.strip()
        if not title:
            raise BadRequest("title: must not be empty", field="title")
        self._check("kind", kind, KINDS)
        self._check("priority", priority, PRIORITIES)
        self._check("state", state, STATES)
        user = self._assignee(repo, assignee)
        self.store.lock_repository(repo.repo.id)
        issue = Issue(
            repository_id=repo.repo.id,
            number=self.store.next_number(repo.repo.id),
            title=title,
            content=content or "",
            kind=kind,
            priority=priority,
            state=state,
            reporter_user_id=subject.user_id,
            assignee_user_id=user.id if user else None,
            votes=0,
        )
        self.store.add(issue)
        ctx = load_issue(self.store, repo, issue)
        self._publish(
            EventKey.ISSUE_CREATED,
            ctx,
            subject.user_id,
            payloads.issue_event_payload(ctx, self._actor_payload(subject), self.urls),
        )
        return ctx

    def can_edit(self, subject: AuthSubject, ctx: IssueContext) -> bool:
        if subject.user_id is not None and subject.user_id == ctx.issue.reporter_user_id:
            return True
        return self.repos.permission_of(subject, ctx.repo.repo) >= Permission.WRITE

    def update(
        self,
        subject: AuthSubject,
        ctx: IssueContext,
        *,
        title: str | None = None,
        content: str | None = None,
        kind: str | None = None,
        priority: str | None = None,
        state: str | None = None,
        assignee: Any = UNSET,
        message: str | None = None,
    ) -> tuple[IssueContext, IssueChange | None]:
        """Change fields (its reporter or a writer), optionally with a comment. Records an
        :class:`IssueChange` and publishes ``issue:updated`` with ``changes`` and ``comment``;
        nothing at all when nothing changed and there is no comment. ``assignee`` is a user
        reference, None to unassign, or left out."""
        self._require(subject, ctx.repo, Scope.ISSUE_WRITE)
        if not self.can_edit(subject, ctx):
            raise Forbidden("only the reporter or someone with write access can change this issue")
        issue = ctx.issue
        changes: dict[str, dict[str, str]] = {}

        def put(field: str, attr: str, value: str | None) -> None:
            if value is not None and getattr(issue, attr) != value:
                changes[field] = {"old": str(getattr(issue, attr)), "new": value}
                setattr(issue, attr, value)

        if title is not None and not title.strip():
            raise BadRequest("title: must not be empty", field="title")
        put("title", "title", title.strip() if title is not None else None)
        put("content", "content", content)
        put("kind", "kind", self._check("kind", kind, KINDS) if kind is not None else None)
        put(
            "priority",
            "priority",
            self._check("priority", priority, PRIORITIES) if priority is not None else None,
        )
        put("state", "state", self._check("state", state, STATES) if state is not None else None)
        if assignee is not UNSET:
            user = self._assignee(ctx.repo, assignee)
            new_id = user.id if user else None
            if new_id != issue.assignee_user_id:
                old = ctx.assignee.username if ctx.assignee else ""
                changes["assignee"] = {"old": old, "new": user.username if user else ""}
                changes["assignee_account_id"] = {
                    "old": ctx.assignee.account_id if ctx.assignee else "",
                    "new": user.account_id if user else "",
                }
                issue.assignee_user_id = new_id
        comment = None
        if message is not None and message.strip():
            comment = IssueComment(issue_id=issue.id, user_id=subject.user_id, content=message)
            self.store.add(comment)
        if not changes and comment is None:
            return self.reload(ctx), None
        now = utc_now()
        issue.updated_at = now
        if "title" in changes or "content" in changes:
            issue.edited_at = now
        change = IssueChange(
            issue_id=issue.id,
            user_id=subject.user_id,
            comment_id=comment.id if comment else None,
            changes=changes,
        )
        self.store.add(change)
        fresh = self.reload(ctx)
        comment_body = None
        if comment is not None:
            author = self.store.users_by_ids([comment.user_id]).get(comment.user_id or 0)
            comment_body = issue_comment_read(fresh, comment, author, self.urls)
        self._publish(
            EventKey.ISSUE_UPDATED,
            fresh,
            subject.user_id,
            payloads.issue_updated_payload(
                fresh, self._actor_payload(subject), changes, comment_body, self.urls
            ),
        )
        return fresh, change

    def delete(self, subject: AuthSubject, ctx: IssueContext) -> None:
        """Delete an issue and its comments (write access)."""
        self.repos.require(subject, ctx.repo.repo, Permission.WRITE, scope=Scope.ISSUE_WRITE)
        self.store.delete(ctx.issue)

    # ---- comments ------------------------------------------------------------------------------
    def comments(
        self, ctx: IssueContext, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[tuple[IssueComment, User | None]], int]:
        rows, total = self.store.comments(ctx.issue.id, offset=offset, limit=limit)
        users = self.store.users_by_ids(r.user_id for r in rows)
        return [(r, users.get(r.user_id) if r.user_id else None) for r in rows], total

    def comment(self, ctx: IssueContext, comment_id: int) -> tuple[IssueComment, User | None]:
        row = self.store.comment(ctx.issue.id, comment_id)
        if row is None:
            raise NotFound(f"comment {comment_id} not found on issue #{ctx.issue.number}")
        user = self.store.users_by_ids([row.user_id]).get(row.user_id or 0)
        return row, user

    def add_comment(self, subject: AuthSubject, ctx: IssueContext, raw: str) -> IssueComment:
        """Comment on an issue. Publishes ``issue:comment_created``."""
        self._require(subject, ctx.repo, Scope.ISSUE_WRITE)
        if not raw.strip():
            raise BadRequest("content.raw: a comment needs some text", field="content.raw")
        row = IssueComment(issue_id=ctx.issue.id, user_id=subject.user_id, content=raw)
        self.store.add(row)
        ctx.issue.updated_at = utc_now()
        fresh = self.reload(ctx)
        body = issue_comment_read(fresh, row, self.comment(fresh, row.id)[1], self.urls)
        self._publish(
            EventKey.ISSUE_COMMENT_CREATED,
            fresh,
            subject.user_id,
            payloads.issue_comment_payload(fresh, self._actor_payload(subject), body, self.urls),
        )
        return row

    def edit_comment(
        self, subject: AuthSubject, ctx: IssueContext, comment_id: int, raw: str
    ) -> IssueComment:
        self._require(subject, ctx.repo, Scope.ISSUE_WRITE)
        row = self.comment(ctx, comment_id)[0]
        if row.user_id != subject.user_id:
            raise Forbidden("only the author of a comment can edit it")
        if not raw.strip():
            raise BadRequest("content.raw: a comment needs some text", field="content.raw")
        row.content = raw
        row.updated_at = utc_now()
        self.session.flush()
        return row

    def delete_comment(self, subject: AuthSubject, ctx: IssueContext, comment_id: int) -> None:
        perm = self._require(subject, ctx.repo, Scope.ISSUE_WRITE)
        row = self.comment(ctx, comment_id)[0]
        if row.user_id != subject.user_id and perm < Permission.ADMIN:
            raise Forbidden("only the author of a comment or an admin can delete it")
        self.store.delete(row)

    # ---- changes -------------------------------------------------------------------------------
    def changes(
        self, ctx: IssueContext, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[tuple[IssueChange, User | None, IssueComment | None]], int]:
        rows, total = self.store.changes(ctx.issue.id, offset=offset, limit=limit)
        users = self.store.users_by_ids(r.user_id for r in rows)
        comments = self.store.comments_by_ids(r.comment_id for r in rows)
        return [
            (
                r,
                users.get(r.user_id) if r.user_id else None,
                comments.get(r.comment_id) if r.comment_id else None,
            )
            for r in rows
        ], total

    def change(
        self, ctx: IssueContext, change_id: int
    ) -> tuple[IssueChange, User | None, IssueComment | None]:
        row = self.store.change(ctx.issue.id, change_id)
        if row is None:
            raise NotFound(f"change {change_id} not found on issue #{ctx.issue.number}")
        user = self.store.users_by_ids([row.user_id]).get(row.user_id or 0)
        comment = self.store.comments_by_ids([row.comment_id]).get(row.comment_id or 0)
        return row, user, comment
