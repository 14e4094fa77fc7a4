"""The review part of ``appdock demo`` (idempotent): a pull request in ``acme/widget`` from
``feature/readme`` (with a reviewer, a comment and an approval) and two issues.

If the repository or the branch is not there yet (the repository part of the demo did not run),
they are made here through the host's own services, so every change leaves its events.
"""

from __future__ import annotations

import os
import tempfile

from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.cli.common import session_scope
from appdock.config import Settings
from appdock.core.subject import AuthSubject
from appdock.git import GitRepo, Identity, commit_tree
from appdock.issue.service import IssueService
from appdock.models import User
from appdock.pullrequest.service import PullRequestService
from appdock.repo.context import RepoContext
from appdock.repo.service import RepoService
from appdock.subscribers import register

WORKSPACE, SLUG, BRANCH = "acme", "widget", "feature/readme"
PR_TITLE = "Explain how to contribute"
PR_DESCRIPTION = (
    "Adds a **Contributing** section to the README and a `CONTRIBUTING.md`.\n\n"
    "- how to run the tests\n- how to open a pull request\n"
)
ISSUES = [
    {
        "title": "make(0) error message is unclear",
        "content": "`make(0)` raises `ValueError: size must be positive`; say which value was "
        "given.",
        "kind": "bug",
        "priority": "minor",
    },
    {
        "title": "Support custom colours",
        "content": "Let `make()` accept any CSS colour name, not only blue and red.",
        "kind": "enhancement",
        "priority": "major",
    },
]


def _subject(user: User) -> AuthSubject:
    return AuthSubject(kind="session", user_id=user.id, username=user.username)


def _write_commit(
    git: GitRepo, parent: str | None, files: dict[str, str], message: str, who: Identity
) -> str:
    """A commit of ``files`` on top of ``parent`` written with plumbing (no worktree, no ref)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if parent:
            git.run("read-tree", parent, env=env)
        for path, text in files.items():
            blob = git.run("hash-object", "-w", "--stdin", input=text.encode()).stdout
            oid = blob.decode().strip()
            git.run("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", env=env)
        tree = git.run("write-tree", env=env).stdout.decode().strip()
    return commit_tree(git, tree, [parent] if parent else [], message, who, who)


def _ensure_repository(session: Session, settings: Settings, admin: User, bob: User) -> RepoContext:
    repos = RepoService(session, settings)
    ws = repos.workspace(WORKSPACE)
    row = repos.store.by_slug(ws.id, SLUG)
    ctx = repos.context(row) if row else repos.create(_subject(admin), ws, SLUG, is_private=False)
    git = repos.git(ctx.repo)
    ada = Identity(admin.display_name, admin.email or "admin@example.test")
    builder = Identity(bob.display_name, bob.email or "bob@example.test")
    main = git.resolve("refs/heads/main")
    if main is None:
        main = _write_commit(
            git,
            None,
            {"README.md": "# Widget\n\nA tiny library that turns numbers into widgets.\n"},
            "Start the widget project",
            ada,
        )
        repos.create_branch(_subject(admin), ctx, "main", main)
        ctx = repos.context(repos.store.by_id(ctx.repo.id) or ctx.repo)
    if git.branch(BRANCH) is None:
        readme = git.read_blob(git.text("rev-parse", f"{main}:README.md").strip()).decode()
        tip = _write_commit(
            git,
            main,
            {
                "README.md": readme.rstrip("\n") + "\n\n## Contributing\n\nSee CONTRIBUTING.md.\n",
                "CONTRIBUTING.md": "# Contributing\n\n1. Run `pytest`.\n"
                "2. Open a pull request against `main`.\n",
            },
            PR_TITLE,
            builder,
        )
        repos.create_branch(_subject(bob), ctx, BRANCH, tip)
    return ctx


def seed_reviews(settings: Settings) -> list[str]:
    register()
    with session_scope(settings) as (session, s):
        accounts = AccountService(session, s.secret)
        admin = accounts.store.user_by_username("admin")
        bob = accounts.store.user_by_username("bob")
        if admin is None or bob is None:
            return []
        repo = _ensure_repository(session, s, admin, bob)
        prs = PullRequestService(session, s)
        existing, _ = prs.search(repo, states=["OPEN", "MERGED", "DECLINED", "SUPERSEDED"])
        if not any(p.pr.source_branch == BRANCH for p in existing):
            ctx, _ = prs.create(
                _subject(bob),
                repo,
                title=PR_TITLE,
                source_branch=BRANCH,
                destination_branch=repo.repo.mainbranch or "main",
                description=PR_DESCRIPTION,
                close_source_branch=True,
                reviewers=[admin.uuid],
            )
            prs.add_comment(
                _subject(admin), ctx, "Nice. Could the README link to `CONTRIBUTING.md`?"
            )
            prs.approve(_subject(admin), prs.reload(ctx))
        issues = IssueService(session, s)
        _, total = issues.search(repo)
        if total == 0:
            for spec in ISSUES:
                issues.create(_subject(bob), repo, **spec)
        count = prs.count_by_state(repo).get("OPEN", 0)
    return [
        f"  {WORKSPACE}/{SLUG}: {count} open pull request(s), issues at /{WORKSPACE}/{SLUG}/issues"
    ]
