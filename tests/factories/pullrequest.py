"""Typed factories for pull requests and issues, and the repositories they need. Each commits.

``write_commit`` adds a commit to a bare repository with git plumbing (no hooks, no events), for
tests that need history without a push; ``push_commit`` does the same through the host's own
ref-change path so ``repo:push`` is published and pull requests follow the branch.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.subject import AuthSubject
from appdock.git import ZERO, GitRepo, RefUpdate
from appdock.issue.service import IssueService
from appdock.models import Issue, Repository, User, Workspace
from appdock.pullrequest.context import PullRequestContext
from appdock.pullrequest.service import PullRequestService
from appdock.repo.context import RepoContext
from appdock.repo.push import PushRecord, git_for, record_push
from appdock.repo.service import RepoService

AUTHOR = ("Alice Author", "alice@example.test")


def subject_of(user: User) -> AuthSubject:
    return AuthSubject(kind="session", user_id=user.id, username=user.username)


def git_of(settings: Settings, repo: Repository | RepoContext) -> GitRepo:
    row = repo.repo if isinstance(repo, RepoContext) else repo
    return git_for(settings, row)


def write_commit(
    settings: Settings,
    repo: Repository | RepoContext,
    files: dict[str, str | None],
    *,
    branch: str = "main",
    message: str = "change",
    parent: str | None = None,
    author: tuple[str, str] = AUTHOR,
    move_branch: bool = True,
) -> str:
    """Commit ``files`` (None deletes) on top of ``parent`` or the branch tip; moves the branch
    unless ``move_branch`` is False. Returns the commit hash."""
    git = git_of(settings, repo)
    base = parent or git.resolve(f"refs/heads/{branch}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "GIT_INDEX_FILE": os.path.join(tmp, "index"),
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
        }
        if base:
            git.run("read-tree", base, env=env)
        for path, content in files.items():
            if content is None:
                git.run("update-index", "--force-remove", path, env=env)
                continue
            oid = git.run("hash-object", "-w", "--stdin", input=content.encode()).stdout
            blob = oid.decode().strip()
            git.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git.run("write-tree", env=env).stdout.decode().strip()
        args = ["commit-tree", tree, "-m", message]
        if base:
            args += ["-p", base]
        commit = git.run(*args, env=env).stdout.decode().strip()
    if move_branch:
        git.update_ref(f"refs/heads/{branch}", commit)
    return commit


def push_commit(
    db: Session,
    settings: Settings,
    repo: RepoContext,
    files: dict[str, str | None],
    *,
    branch: str,
    pusher: User,
    message: str = "change",
) -> str:
    """Like a ``git push`` of one new commit: moves the branch and records ``repo:push`` (with
    every push listener) in a committed transaction."""
    git = git_of(settings, repo)
    old = git.resolve(f"refs/heads/{branch}") or ZERO
    new = write_commit(settings, repo, files, branch=branch, message=message)
    record = PushRecord(
        repository_id=repo.repo.id,
        updates=[RefUpdate(old, new, f"refs/heads/{branch}")],
        actor_user_id=pusher.id,
    )
    record_push(db, settings, record)
    db.commit()
    return new


def delete_branch_by_push(
    db: Session, settings: Settings, repo: RepoContext, branch: str, pusher: User
) -> None:
    git = git_of(settings, repo)
    old = git.resolve(f"refs/heads/{branch}")
    assert old is not None
    git.delete_ref(f"refs/heads/{branch}", old)
    record = PushRecord(
        repository_id=repo.repo.id,
        updates=[RefUpdate(old, ZERO, f"refs/heads/{branch}")],
        actor_user_id=pusher.id,
    )
    record_push(db, settings, record)
    db.commit()


def make_repo(
    db: Session,
    settings: Settings,
    owner: User,
    slug: str = "widget",
    *,
    workspace: Workspace | None = None,
    private: bool = True,
) -> RepoContext:
    """A repository with ``main`` (README.md, app.py) and mainbranch set."""
    svc = RepoService(db, settings)
    ws = workspace or svc.workspace(owner.username)
    ctx = svc.create(subject_of(owner), ws, slug, is_private=private)
    db.commit()
    write_commit(
        settings,
        ctx,
        {"README.md": "# Widget\n\nA widget.\n", "app.py": "print('hello')\n"},
        message="Initial commit",
    )
    row = db.get(Repository, ctx.repo.id)
    assert row is not None
    row.mainbranch = "main"
    db.commit()
    git_of(settings, ctx).set_head("main")
    return RepoService(db, settings).context(row)


def make_branch(
    settings: Settings,
    repo: RepoContext,
    name: str,
    files: dict[str, str | None],
    *,
    base: str = "main",
    message: str | None = None,
) -> str:
    """A branch off ``base`` with one commit changing ``files``; returns its tip."""
    git = git_of(settings, repo)
    start = git.resolve(f"refs/heads/{base}")
    assert start is not None
    return write_commit(
        settings, repo, files, branch=name, parent=start, message=message or f"Work on {name}"
    )


@dataclass
class Opened:
    repo: RepoContext
    pr: PullRequestContext


def open_pr(
    db: Session,
    settings: Settings,
    author: User,
    repo: RepoContext,
    source: str,
    *,
    title: str = "Add a feature",
    destination: str | None = None,
    reviewers: list[User] | None = None,
    description: str = "",
    close_source_branch: bool = False,
) -> PullRequestContext:
    svc = PullRequestService(db, settings)
    ctx, _ = svc.create(
        subject_of(author),
        repo,
        title=title,
        source_branch=source,
        destination_branch=destination,
        description=description,
        close_source_branch=close_source_branch,
        reviewers=[u.uuid for u in reviewers or []],
    )
    db.commit()
    return ctx


def make_issue(
    db: Session,
    settings: Settings,
    reporter: User,
    repo: RepoContext,
    title: str = "Something is broken",
    **kw: str,
) -> Issue:
    svc = IssueService(db, settings)
    ctx = svc.create(subject_of(reporter), repo, title=title, **kw)  # type: ignore[arg-type]
    db.commit()
    return ctx.issue
