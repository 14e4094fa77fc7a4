"""Rules for repositories: who may do what, creation on disk, rename, delete, fork, branches and
tags made by the host, build statuses. Methods flush; the caller commits.

Invariants:
- Permissions are decided in one place, :meth:`RepoService.permission_of` (levels) and
  :meth:`RepoService.require` (scope 403 → hidden 404 → level 403, in that order).
- A bare repository is created after its row is flushed, inside the transaction, and removed if
  the transaction (or the savepoint it was made in) rolls back. A deleted repository's directory is
  moved to ``DATA_DIR/trash`` and removed only after the commit; a rollback moves it back.
- Every change publishes its event in the same transaction (:mod:`appdock.event.service`).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core import bbql
from appdock.core.db import on_commit, on_rollback
from appdock.core.errors import (
    AppdockError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
)
from appdock.core.scopes import Scope
from appdock.core.slugs import check_repo_slug
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.event.service import EventKey, publish
from appdock.git import (
    ZERO,
    GitError,
    GitRepo,
    Identity,
    Ref,
    RefConflict,
    RefUpdate,
    is_valid_ref_name,
)
from appdock.models import CommitStatus, Event, Repository, User, Workspace
from appdock.repo import payloads
from appdock.repo.context import RepoContext, load_context, load_contexts
from appdock.repo.push import (
    PushRecord,
    git_for,
    install_hooks,
    journal_ref_updates,
    record_push,
    repo_path,
)
from appdock.repo.store import RepoStore

log = logging.getLogger("appdock.repo")

# Second path segments the host's own pages use under /{workspace}/.
RESERVED_REPO_SLUGS = frozenset({"workspace", "repositories", "projects", "settings", "avatar"})
ROLES = ("member", "contributor", "admin", "owner")
STATUS_STATES = ("INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED")


class Permission(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


LEVEL_SCOPE = {
    Permission.READ: Scope.REPOSITORY,
    Permission.WRITE: Scope.REPOSITORY_WRITE,
    Permission.ADMIN: Scope.REPOSITORY_ADMIN,
}


def permission_of(session: Session, subject: AuthSubject, repo: Repository) -> Permission:
    """What an account may do with a repository, before scopes: ``admin`` for workspace admins and
    owners and for a credential acting as the workspace, ``write`` for members, ``read`` for
    everyone on a public repository, else ``none`` (the repository is hidden: 404)."""
    if subject.workspace_id is not None and subject.workspace_id == repo.workspace_id:
        return Permission.ADMIN
    role = RepoStore(session).role_of(repo.workspace_id, subject.user_id)
    if role in ("admin", "owner"):
        return Permission.ADMIN
    if role is not None:
        return Permission.WRITE
    return Permission.NONE if repo.is_private else Permission.READ


@dataclass(frozen=True)
class Actor:
    """Who did something, for events and git identities."""

    user: User | None
    workspace: Workspace | None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    def identity(self) -> Identity:
        if self.user is not None:
            return Identity(
                self.user.display_name, self.user.email or f"{self.user.username}@users.noreply"
            )
        name = self.workspace.name if self.workspace else "appdock"
        return Identity(name, "noreply@appdock.invalid")


def _move(source: Path, target: Path) -> None:
    source.replace(target)


class RepoService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.store = RepoStore(session)
        self.urls = Urls(settings.base_url)

    # ---- permissions ---------------------------------------------------------------------------
    def permission_of(self, subject: AuthSubject, repo: Repository) -> Permission:
        return permission_of(self.session, subject, repo)

    def require(
        self,
        subject: AuthSubject,
        repo: Repository,
        level: Permission,
        *,
        scope: Scope | None = None,
        name: str | None = None,
    ) -> Permission:
        """Check a caller may act at ``level``: the credential's scope (403 naming it), then
        visibility (404, no existence leak), then the level (403 saying what is missing)."""
        if not subject.is_anonymous:
            subject.require_scope(scope or LEVEL_SCOPE[level])
        perm = self.permission_of(subject, repo)
        label = name or repo.slug
        if perm is Permission.NONE:
            raise NotFound(f"repository {label!r} not found")
        if perm < level:
            if subject.is_anonymous:
                raise Unauthorized(f"log in to {level.label} repository {label!r}")
            raise Forbidden(
                f"you have {perm.label} access to repository {label!r}; this needs {level.label}"
            )
        return perm

    def actor(self, subject: AuthSubject) -> Actor:
        user = self.store.user_by_id(subject.user_id) if subject.user_id is not None else None
        ws = None
        if user is None and subject.workspace_id is not None:
            ws = self.store.workspace_by_id(subject.workspace_id)
        return Actor(user=user, workspace=ws)

    def actor_payload(self, actor: Actor) -> dict[str, Any]:
        return payloads.actor_payload(actor.user, actor.workspace, self.urls)

    # ---- lookups -------------------------------------------------------------------------------
    def workspace(self, slug: str) -> Workspace:
        ws = self.store.workspace(slug)
        if ws is None:
            raise NotFound(f"workspace {slug!r} not found")
        return ws

    def get(
        self,
        workspace: str,
        repo_slug: str,
        subject: AuthSubject,
        level: Permission = Permission.READ,
        *,
        scope: Scope | None = None,
    ) -> RepoContext:
        """The repository for a caller who needs ``level``; NotFound when absent or hidden."""
        name = f"{workspace}/{repo_slug}"
        ws = self.store.workspace(workspace)
        repo = self.store.by_slug(ws.id, repo_slug) if ws else None
        if ws is None or repo is None:
            if not subject.is_anonymous:
                subject.require_scope(scope or LEVEL_SCOPE[level])
            raise NotFound(f"repository {name!r} not found")
        self.require(subject, repo, level, scope=scope, name=name)
        return load_context(self.store, repo, workspace=ws)

    def context(self, repo: Repository) -> RepoContext:
        return load_context(self.store, repo)

    def git(self, repo: Repository) -> GitRepo:
        return git_for(self.settings, repo)

    def can_create_in(self, subject: AuthSubject, ws: Workspace) -> bool:
        if subject.workspace_id is not None and subject.workspace_id == ws.id:
            return True
        return self.store.role_of(ws.id, subject.user_id) is not None

    # ---- listing -------------------------------------------------------------------------------
    def list_repositories(
        self,
        subject: AuthSubject,
        *,
        offset: int,
        limit: int,
        workspace: Workspace | None = None,
        role: str | None = None,
        q: str | None = None,
        sort: str | None = None,
        after: str | None = None,
        fork_of: Repository | None = None,
    ) -> tuple[list[RepoContext], int]:
        """Repositories the caller may read, optionally narrowed by workspace, role, ``q``."""
        if role is not None:
            if role not in ROLES:
                raise BadRequest(f"role: must be one of {', '.join(ROLES)}", field="role")
            if subject.is_anonymous:
                raise Unauthorized("role filters need an authenticated caller")
        if sort is not None and sort.lstrip("-") not in self.store.sort_fields():
            raise BadRequest(
                f"sort: {sort!r} is not supported; use one of "
                + ", ".join(self.store.sort_fields()),
                field="sort",
            )
        after_dt = None
        if after:
            try:
                after_dt = datetime.fromisoformat(after)
            except ValueError as exc:
                raise BadRequest("after: must be an ISO 8601 date", field="after") from exc
        conditions = [self.store.query_condition(bbql.parse(q))] if q else []
        rows, total = self.store.list_readable(
            subject,
            offset=offset,
            limit=limit,
            workspace_id=workspace.id if workspace else None,
            role=role,
            conditions=conditions,
            sort=sort,
            after=after_dt,
            fork_of_id=fork_of.id if fork_of else None,
        )
        return load_contexts(self.store, rows), total

    def workspace_listing(self, slug: str, subject: AuthSubject) -> Workspace:
        """A workspace whose repositories are listed: NotFound when it does not exist, or when it
        is private to the caller and has no public repository either (no existence leak)."""
        ws = self.workspace(slug)
        if not ws.is_private or self.can_create_in(subject, ws):
            return ws
        if self.store.count_public_in(ws.id) == 0:
            raise NotFound(f"workspace {slug!r} not found")
        return ws

    # ---- lifecycle -----------------------------------------------------------------------------
    def check_slug(self, slug: str, field: str = "slug") -> str:
        check_repo_slug(slug, field)
        if slug in RESERVED_REPO_SLUGS:
            raise BadRequest(f"{field}: {slug!r} is reserved", field=field)
        return slug

    def create(
        self,
        subject: AuthSubject,
        ws: Workspace,
        slug: str,
        *,
        name: str | None = None,
        description: str = "",
        is_private: bool = True,
        project_key: str | None = None,
        fork_policy: str = "allow_forks",
        language: str = "",
        website: str = "",
        has_issues: bool = True,
        has_wiki: bool = False,
        fork_of: Repository | None = None,
        mainbranch: str | None = None,
    ) -> RepoContext:
        """Create the row and the bare repository; publishes ``repo:created``.

        >>> ctx = svc.create(subject, ws, "widget", description="A widget", is_private=True)
        """
        self.check_slug(slug)
        if not self.can_create_in(subject, ws):
            if ws.is_private and self.store.count_public_in(ws.id) == 0:
                raise NotFound(f"workspace {ws.slug!r} not found")
            raise Forbidden(f"you cannot create repositories in workspace {ws.slug!r}")
        if self.store.slug_taken(ws.id, slug):
            raise BadRequest(f"slug: repository {ws.slug}/{slug} already exists", field="slug")
        name = (name or slug).strip() or slug
        project = self._project(ws, project_key)
        repo = Repository(
            workspace_id=ws.id,
            project_id=project.id if project else None,
            slug=slug,
            name=name,
            description=description or "",
            is_private=is_private,
            fork_policy=fork_policy,
            language=language or "",
            website=website or "",
            has_issues=has_issues,
            has_wiki=has_wiki,
            fork_of_id=fork_of.id if fork_of else None,
            mainbranch=mainbranch,
        )
        try:
            with self.session.begin_nested():
                self.session.add(repo)
        except IntegrityError as exc:
            raise BadRequest(
                f"slug: repository {ws.slug}/{slug} already exists", field="slug"
            ) from exc
        path = repo_path(self.settings, repo)
        on_rollback(self.session, lambda: shutil.rmtree(path, ignore_errors=True))
        try:
            if fork_of is not None:
                git = GitRepo.clone_bare(repo_path(self.settings, fork_of), path)
                if mainbranch:
                    git.set_head(mainbranch)
            else:
                git = GitRepo.init_bare(path)
            install_hooks(git)
            repo.size = git.disk_size()
        except (GitError, OSError) as exc:
            shutil.rmtree(path, ignore_errors=True)
            log.error("creating %s on disk failed: %s", path, exc)
            raise BadRequest(f"the repository could not be created on disk: {exc}") from exc
        self.session.flush()
        ctx = load_context(self.store, repo, workspace=ws)
        actor = self.actor(subject)
        publish(
            self.session,
            EventKey.REPO_CREATED,
            workspace_id=ws.id,
            repository_id=repo.id,
            actor_user_id=actor.user_id,
            payload=payloads.repo_event_payload(ctx, self.actor_payload(actor), self.urls),
        )
        return ctx

    def _project(self, ws: Workspace, key: str | None) -> Any:
        if key:
            project = self.store.project(ws.id, key)
            if project is None:
                raise BadRequest(
                    f"project.key: no project {key!r} in workspace {ws.slug!r}", field="project.key"
                )
            return project
        return self.store.default_project(ws.id)

    def update(
        self,
        subject: AuthSubject,
        ctx: RepoContext,
        *,
        name: str | None = None,
        slug: str | None = None,
        description: str | None = None,
        is_private: bool | None = None,
        project_key: str | None = None,
        fork_policy: str | None = None,
        language: str | None = None,
        website: str | None = None,
        has_issues: bool | None = None,
        has_wiki: bool | None = None,
    ) -> RepoContext:
        """Change settings (admin); a new ``slug`` renames. Publishes ``repo:updated`` with the
        changed fields, or nothing when nothing changed."""
        self.require(subject, ctx.repo, Permission.ADMIN)
        repo = ctx.repo
        changes: dict[str, tuple[Any, Any]] = {}
        old_full_name = ctx.full_name
        old_links = payloads.repository_payload(ctx, self.urls)["links"]

        def put(field: str, value: Any) -> None:
            if value is not None and getattr(repo, field) != value:
                changes[field] = (getattr(repo, field), value)
                setattr(repo, field, value)

        if name is not None:
            if not name.strip():
                raise BadRequest("name: must not be empty", field="name")
            put("name", name.strip())
        if slug is not None and slug != repo.slug:
            self.check_slug(slug)
            if self.store.slug_taken(repo.workspace_id, slug):
                raise BadRequest(
                    f"slug: repository {ctx.workspace.slug}/{slug} already exists", field="slug"
                )
            put("slug", slug)
        put("description", description)
        put("is_private", is_private)
        put("fork_policy", fork_policy)
        put("language", language)
        put("website", website)
        put("has_issues", has_issues)
        put("has_wiki", has_wiki)
        if project_key is not None:
            project = self._project(ctx.workspace, project_key)
            if project is not None and project.id != repo.project_id:
                old_key = ctx.project.key if ctx.project else None
                repo.project_id = project.id
                changes["project"] = (old_key, project.key)
        if not changes:
            return ctx
        repo.updated_at = utc_now()
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise BadRequest(
                "slug: a repository with that slug already exists", field="slug"
            ) from exc
        new_ctx = load_context(self.store, repo, workspace=ctx.workspace)
        if "slug" in changes:
            changes["full_name"] = (old_full_name, new_ctx.full_name)
            changes["links"] = (old_links, payloads.repository_payload(new_ctx, self.urls)["links"])
        actor = self.actor(subject)
        publish(
            self.session,
            EventKey.REPO_UPDATED,
            workspace_id=repo.workspace_id,
            repository_id=repo.id,
            actor_user_id=actor.user_id,
            payload=payloads.repo_updated_payload(
                new_ctx, self.actor_payload(actor), changes, self.urls
            ),
        )
        return new_ctx

    def delete(self, subject: AuthSubject, ctx: RepoContext) -> None:
        """Delete the row and (after commit) the directory; publishes ``repo:deleted``."""
        self.require(subject, ctx.repo, Permission.ADMIN, scope=Scope.REPOSITORY_DELETE)
        repo = ctx.repo
        actor = self.actor(subject)
        publish(
            self.session,
            EventKey.REPO_DELETED,
            workspace_id=repo.workspace_id,
            repository_id=repo.id,
            actor_user_id=actor.user_id,
            payload=payloads.repo_event_payload(ctx, self.actor_payload(actor), self.urls),
        )
        path = repo_path(self.settings, repo)
        self.store.delete(repo)
        if path.exists():
            trash = self.settings.data_dir / "trash" / f"{repo.disk_name}-{time.time_ns()}"
            trash.parent.mkdir(parents=True, exist_ok=True)
            path.replace(trash)
            on_commit(self.session, lambda: shutil.rmtree(trash, ignore_errors=True))
            on_rollback(self.session, lambda: _move(trash, path))

    def fork(
        self,
        subject: AuthSubject,
        source: RepoContext,
        *,
        workspace: Workspace | None = None,
        slug: str | None = None,
        name: str | None = None,
        is_private: bool | None = None,
        description: str | None = None,
        project_key: str | None = None,
        fork_policy: str | None = None,
    ) -> RepoContext:
        """Copy a repository (all branches and tags) into a workspace the caller belongs to.
        Publishes ``repo:fork`` on the source and ``repo:created`` for the fork."""
        self.require(subject, source.repo, Permission.READ, scope=Scope.REPOSITORY_WRITE)
        src = source.repo
        if src.fork_policy == "no_forks":
            raise Forbidden(f"repository {source.full_name!r} does not allow forks")
        target = workspace
        if target is None:
            if subject.user_id is not None:
                target = self.store.workspace(subject.username or "")
            elif subject.workspace_id is not None:
                target = self.store.workspace_by_id(subject.workspace_id)
        if target is None:
            raise BadRequest("workspace: name the workspace to fork into", field="workspace")
        private = src.is_private if is_private is None else is_private
        if not private and (src.is_private or src.fork_policy == "no_public_forks"):
            raise BadRequest(
                "is_private: a fork of this repository must be private", field="is_private"
            )
        ctx = self.create(
            subject,
            target,
            slug or src.slug,
            name=name or src.name,
            description=src.description if description is None else description,
            is_private=private,
            project_key=project_key,
            fork_policy=fork_policy or src.fork_policy,
            language=src.language,
            website=src.website,
            has_issues=src.has_issues,
            has_wiki=src.has_wiki,
            fork_of=src,
            mainbranch=src.mainbranch,
        )
        actor = self.actor(subject)
        publish(
            self.session,
            EventKey.REPO_FORK,
            workspace_id=src.workspace_id,
            repository_id=src.id,
            actor_user_id=actor.user_id,
            payload=payloads.repo_fork_payload(source, ctx, self.actor_payload(actor), self.urls),
        )
        return ctx

    # ---- refs made by the host -----------------------------------------------------------------
    def _ref_change(
        self,
        subject: AuthSubject,
        ctx: RepoContext,
        update: RefUpdate,
        apply: Any,
        *,
        conflict: type[AppdockError] = BadRequest,
    ) -> Event | None:
        """Journal, apply with git (compare-and-swap), then publish ``repo:push`` in the session."""
        actor = self.actor(subject)
        record = PushRecord(
            repository_id=ctx.repo.id,
            updates=[update],
            actor_user_id=actor.user_id,
            actor_workspace_id=actor.workspace.id if actor.workspace else None,
        )
        path = journal_ref_updates(self.session, self.settings, record)
        try:
            apply()
        except RefConflict as exc:
            path.unlink(missing_ok=True)
            if conflict is BadRequest:
                raise BadRequest(f"{update.name}: {exc.message}", field="name") from exc
            raise conflict(f"{update.name} changed meanwhile; nothing was updated") from exc
        except GitError:
            path.unlink(missing_ok=True)
            raise
        return record_push(self.session, self.settings, record, git=self.git(ctx.repo))

    def move_ref(
        self, subject: AuthSubject, ctx: RepoContext, full_ref: str, new: str, old: str
    ) -> Event | None:
        """Point ``full_ref`` (``refs/heads/x`` or ``refs/tags/x``) at ``new`` only if it still
        points at ``old`` (``ZERO`` for "must not exist"; ``new == ZERO`` deletes), and publish
        the ``repo:push`` in this transaction. Raises :class:`Conflict` (409) when the ref moved
        in between (a push raced us), leaving everything as it was. For pull request merges:

            >>> with git.temporary_worktree(dest_head, actor.identity()) as wt:
            ...     wt.run("merge", "--no-ff", "-m", "Merged in feature", source_head)
            ...     merged = wt.head()
            >>> svc.move_ref(subject, ctx, "refs/heads/main", merged, old=dest_head)
        """
        self.require(subject, ctx.repo, Permission.WRITE)
        git = self.git(ctx.repo)
        update = RefUpdate(old, new, full_ref)
        if new == ZERO:
            return self._ref_change(
                subject, ctx, update, lambda: git.delete_ref(full_ref, old), conflict=Conflict
            )
        return self._ref_change(
            subject,
            ctx,
            update,
            lambda: git.update_ref(full_ref, new, old, reason="appdock"),
            conflict=Conflict,
        )

    def _check_ref_name(self, name: str, kind: str) -> None:
        if not is_valid_ref_name(name):
            raise BadRequest(f"name: {name!r} is not a valid {kind} name", field="name")

    def _target(self, git: GitRepo, target: str) -> str:
        found = git.resolve(target)
        if found is None:
            raise BadRequest(
                f"target.hash: {target!r} is not a commit in this repository", field="target.hash"
            )
        return found

    def create_branch(self, subject: AuthSubject, ctx: RepoContext, name: str, target: str) -> Ref:
        self.require(subject, ctx.repo, Permission.WRITE)
        self._check_ref_name(name, "branch")
        git = self.git(ctx.repo)
        commit = self._target(git, target)
        if git.branch(name) is not None:
            raise BadRequest(f"name: branch {name!r} already exists", field="name")
        ref = f"refs/heads/{name}"
        self._ref_change(
            subject,
            ctx,
            RefUpdate(ZERO, commit, ref),
            lambda: git.update_ref(ref, commit, ZERO, reason="branch created"),
        )
        found = git.branch(name)
        assert found is not None
        return found

    def delete_branch(self, subject: AuthSubject, ctx: RepoContext, name: str) -> None:
        self.require(subject, ctx.repo, Permission.WRITE)
        git = self.git(ctx.repo)
        branch = git.branch(name)
        if branch is None:
            raise NotFound(f"branch {name!r} not found")
        if name == ctx.repo.mainbranch:
            raise BadRequest(
                f"name: {name!r} is the main branch and cannot be deleted", field="name"
            )
        self._ref_change(
            subject,
            ctx,
            RefUpdate(branch.object, ZERO, branch.full),
            lambda: git.delete_ref(branch.full, branch.object),
        )

    def create_tag(
        self,
        subject: AuthSubject,
        ctx: RepoContext,
        name: str,
        target: str,
        message: str | None = None,
    ) -> Ref:
        self.require(subject, ctx.repo, Permission.WRITE)
        self._check_ref_name(name, "tag")
        git = self.git(ctx.repo)
        commit = self._target(git, target)
        if git.tag(name) is not None:
            raise BadRequest(f"name: tag {name!r} already exists", field="name")
        oid = commit
        if message:
            oid = git.create_annotated_tag(name, commit, message, self.actor(subject).identity())
        ref = f"refs/tags/{name}"
        self._ref_change(
            subject,
            ctx,
            RefUpdate(ZERO, oid, ref),
            lambda: git.update_ref(ref, oid, ZERO, reason="tag created"),
        )
        found = git.tag(name)
        assert found is not None
        return found

    def delete_tag(self, subject: AuthSubject, ctx: RepoContext, name: str) -> None:
        self.require(subject, ctx.repo, Permission.WRITE)
        git = self.git(ctx.repo)
        tag = git.tag(name)
        if tag is None:
            raise NotFound(f"tag {name!r} not found")
        self._ref_change(
            subject,
            ctx,
            RefUpdate(tag.object, ZERO, tag.full),
            lambda: git.delete_ref(tag.full, tag.object),
        )

    # ---- build statuses ------------------------------------------------------------------------
    def resolve_commit(self, ctx: RepoContext, rev: str) -> str:
        found = self.git(ctx.repo).resolve(rev)
        if found is None:
            raise NotFound(f"commit {rev!r} not found in {ctx.full_name}")
        return found

    def set_status(
        self,
        subject: AuthSubject,
        ctx: RepoContext,
        commit: str,
        *,
        key: str,
        state: str,
        url: str,
        name: str | None = None,
        description: str | None = None,
        refname: str | None = None,
    ) -> tuple[CommitStatus, bool]:
        """Report a build status; the same key on the same commit updates it. Returns the row and
        whether it was created. Publishes ``repo:commit_status_created`` or ``_updated``."""
        self.require(subject, ctx.repo, Permission.WRITE, scope=Scope.REPOSITORY)
        self._check_state(state)
        commit_hash = self.resolve_commit(ctx, commit)
        row = self.store.status(ctx.repo.id, commit_hash, key)
        created = row is None
        if row is None:
            row = CommitStatus(
                repository_id=ctx.repo.id,
                commit_hash=commit_hash,
                key=key,
                creator_user_id=subject.user_id,
            )
            self.session.add(row)
        row.state = state
        row.url = url
        row.name = name if name is not None else (row.name or key)
        row.description = description if description is not None else (row.description or "")
        row.refname = refname if refname is not None else row.refname
        row.updated_at = utc_now()
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise BadRequest(
                f"key: a status {key!r} was reported at the same time; retry", field="key"
            ) from exc
        self._status_event(subject, ctx, row, created)
        return row, created

    def update_status(
        self, subject: AuthSubject, ctx: RepoContext, commit: str, key: str, **fields: Any
    ) -> CommitStatus:
        self.require(subject, ctx.repo, Permission.WRITE, scope=Scope.REPOSITORY)
        commit_hash = self.resolve_commit(ctx, commit)
        row = self.store.status(ctx.repo.id, commit_hash, key)
        if row is None:
            raise NotFound(f"no build status {key!r} on commit {commit[:12]}")
        if fields.get("state") is not None:
            self._check_state(fields["state"])
        for field in ("state", "url", "name", "description", "refname"):
            if fields.get(field) is not None:
                setattr(row, field, fields[field])
        row.updated_at = utc_now()
        self.session.flush()
        self._status_event(subject, ctx, row, False)
        return row

    def get_status(self, ctx: RepoContext, commit: str, key: str) -> CommitStatus:
        row = self.store.status(ctx.repo.id, self.resolve_commit(ctx, commit), key)
        if row is None:
            raise NotFound(f"no build status {key!r} on commit {commit[:12]}")
        return row

    def statuses(
        self, ctx: RepoContext, commit: str, offset: int = 0, limit: int = 100
    ) -> tuple[list[CommitStatus], int]:
        return self.store.statuses(ctx.repo.id, [self.resolve_commit(ctx, commit)], offset, limit)

    @staticmethod
    def _check_state(state: str) -> None:
        if state not in STATUS_STATES:
            raise BadRequest(f"state: must be one of {', '.join(STATUS_STATES)}", field="state")

    def _status_event(
        self, subject: AuthSubject, ctx: RepoContext, row: CommitStatus, created: bool
    ) -> None:
        actor = self.actor(subject)
        key = (
            EventKey.REPO_COMMIT_STATUS_CREATED if created else EventKey.REPO_COMMIT_STATUS_UPDATED
        )
        publish(
            self.session,
            key,
            workspace_id=ctx.repo.workspace_id,
            repository_id=ctx.repo.id,
            actor_user_id=actor.user_id,
            payload=payloads.commit_status_payload(ctx, row, self.actor_payload(actor), self.urls),
        )
