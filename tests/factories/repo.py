"""Typed factories for repositories. Each commits, so the app under test sees the rows.

``commit_files`` writes commits straight into a bare repository with git plumbing (no hooks, no
events), for tests that need history without going through a push.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.subject import AuthSubject
from appdock.git import GitRepo
from appdock.models import Repository, User, Workspace
from appdock.repo.context import RepoContext
from appdock.repo.push import git_for
from appdock.repo.service import RepoService

AUTHOR = ("Alice Author", "alice@example.test")


def subject_of(user: User) -> AuthSubject:
    return AuthSubject(kind="session", user_id=user.id, username=user.username)


def make_repo(
    db: Session,
    settings: Settings,
    owner: User,
    slug: str = "widget",
    *,
    workspace: Workspace | None = None,
    private: bool = True,
    **kw: object,
) -> RepoContext:
    svc = RepoService(db, settings)
    ws = workspace or svc.workspace(owner.username)
    ctx = svc.create(subject_of(owner), ws, slug, is_private=private, **kw)  # type: ignore[arg-type]
    db.commit()
    return ctx


def commit_files(
    settings: Settings,
    repo: Repository,
    files: dict[str, str | bytes | None],
    *,
    branch: str = "main",
    message: str = "change",
    author: tuple[str, str] = AUTHOR,
    parent: str | None = None,
) -> str:
    """Commit ``files`` (None deletes) on top of ``branch`` (or ``parent``) and move the branch.
    Returns the new commit's hash."""
    git = git_for(settings, repo)
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
                git.run(
                    "update-index",
                    "--index-info",
                    input=f"0 {'0' * 40}\t{path}\n".encode(),
                    env=env,
                )
                continue
            data = content.encode() if isinstance(content, str) else content
            oid = git.run("hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
            git.run("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", env=env)
        tree = git.run("write-tree", env=env).stdout.decode().strip()
        args = ["commit-tree", tree, "-m", message]
        if base:
            args += ["-p", base]
        commit = git.run(*args, env=env).stdout.decode().strip()
    git.update_ref(f"refs/heads/{branch}", commit)
    return commit


def seed_history(db: Session, settings: Settings, ctx: RepoContext, count: int = 3) -> list[str]:
    """``count`` commits on main (README.md, then src/app.py edits), mainbranch set; hashes oldest
    first."""
    hashes = [
        commit_files(
            settings, ctx.repo, {"README.md": "# Widget\n\nA widget.\n"}, message="Add README"
        )
    ]
    for i in range(1, count):
        hashes.append(
            commit_files(
                settings, ctx.repo, {"src/app.py": f"print({i})\n"}, message=f"Change app {i}"
            )
        )
    set_mainbranch(db, settings, ctx.repo, "main")
    return hashes


def set_mainbranch(db: Session, settings: Settings, repo: Repository, branch: str) -> None:
    row = db.get(Repository, repo.id)
    assert row is not None
    row.mainbranch = branch
    db.commit()
    git_for(settings, repo).set_head(branch)


def bare(settings: Settings, repo: Repository) -> GitRepo:
    return git_for(settings, repo)


def repo_dir(settings: Settings, repo: Repository) -> Path:
    return settings.repos_dir / repo.disk_name
