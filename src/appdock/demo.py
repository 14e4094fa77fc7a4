"""``appdock demo``: an idempotent demo for newcomers. Returns the lines to print."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appdock.account.service import AccountService
from appdock.cli.common import session_scope
from appdock.config import Settings


def _password(settings: Settings, name: str) -> str:
    """A demo password generated once and kept in DATA_DIR, so reruns print the same one."""
    path = settings.data_dir / f"demo-{name}-password"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12)
    path.write_text(value)
    path.chmod(0o600)
    return value


def seed(settings: Settings) -> list[str]:
    lines: list[str] = []
    admin_pw = _password(settings, "admin")
    bob_pw = _password(settings, "bob")
    with session_scope(settings) as (session, s):
        svc = AccountService(session, s.secret)
        admin = svc.store.user_by_username("admin")
        if admin is None:
            admin = svc.create_user(
                "admin",
                admin_pw,
                email="admin@example.test",
                display_name="Ada Admin",
                is_admin=True,
            )
        else:
            svc.set_password(admin, admin_pw)
        bob = svc.store.user_by_username("bob")
        if bob is None:
            bob = svc.create_user(
                "bob", bob_pw, email="bob@example.test", display_name="Bob Builder"
            )
        acme = svc.store.workspace_by_slug("acme")
        if acme is None:
            acme = svc.create_team("acme", "Acme", admin)
        if svc.role_of(acme, bob.id) is None:
            svc.add_member(acme, bob, "member")
        svc.set_dev_mode(acme, True)
    lines += seed_repository(settings)
    from appdock.demo_reviews import seed_reviews

    lines += seed_reviews(settings)
    lines.append(f"demo ready at {settings.base_url}")
    lines.append(f"  log in as admin / {admin_pw}")
    lines.append(f"  second member: bob / {bob_pw} (team 'acme')")
    return lines


# ---- acme/widget: a repository with real history ------------------------------------------------
DEMO_FILES: list[tuple[str, str, dict[str, str]]] = [
    (
        "admin",
        "Start the widget project",
        {
            "README.md": "# Widget\n\nA tiny library that turns numbers into widgets.\n",
            "pyproject.toml": '[project]\nname = "widget"\nversion = "0.1.0"\n'
            'requires-python = ">=3.11"\n',
            "widget/__init__.py": '"""Widgets from numbers."""\n\nfrom widget.core import make\n\n'
            '__all__ = ["make"]\n',
        },
    ),
    (
        "bob",
        "Add the widget core",
        {
            "widget/core.py": (
                '"""The widget factory."""\n\nfrom dataclasses import dataclass\n\n\n'
                "@dataclass(frozen=True)\nclass Widget:\n"
                '    size: int\n    colour: str = "blue"\n\n'
                "    def area(self) -> int:\n        return self.size * self.size\n\n\n"
                'def make(size: int, colour: str = "blue") -> Widget:\n'
                '    if size <= 0:\n        raise ValueError("size must be positive")\n'
                "    return Widget(size, colour)\n"
            ),
        },
    ),
    (
        "bob",
        "Test the widget core",
        {
            "tests/test_core.py": (
                "import pytest\n\nfrom widget import make\n\n\n"
                "def test_area() -> None:\n    assert make(3).area() == 9\n\n\n"
                "def test_size_must_be_positive() -> None:\n    with pytest.raises(ValueError):\n"
                "        make(0)\n"
            ),
        },
    ),
    (
        "admin",
        "Document installation and usage",
        {
            "README.md": (
                "# Widget\n\nA tiny library that turns numbers into widgets.\n\n"
                "## Install\n\n```sh\npip install widget\n```\n\n"
                "## Use\n\n```python\nfrom widget import make\n\n"
                "print(make(3).area())  # 9\n```\n\n"
                "| colour | default |\n|--------|---------|\n"
                "| blue   | yes     |\n| red    | no      |\n"
            ),
        },
    ),
]
FEATURE_BRANCH = "feature/readme"
FEATURE_COMMIT: tuple[str, str, dict[str, str | None]] = (
    "bob",
    "Explain how to contribute",
    {
        "README.md": None,  # filled in from main's README plus a section
        "CONTRIBUTING.md": "# Contributing\n\n1. Fork the repository.\n2. Run `pytest`.\n"
        "3. Open a pull request against `main`.\n",
    },
)


def seed_repository(settings: Settings) -> list[str]:
    """Create ``acme/widget`` with history on ``main`` and a ``feature/readme`` branch ready for a
    pull request; pushes go through the repository's hook, so they leave repo:push events."""
    from appdock.core.subject import AuthSubject
    from appdock.repo.push import hook_env, repo_path
    from appdock.repo.service import RepoService

    with session_scope(settings) as (session, s):
        svc = RepoService(session, s)
        accounts = AccountService(session, s.secret)
        admin = accounts.store.user_by_username("admin")
        assert admin is not None
        subject = AuthSubject(kind="session", user_id=admin.id, username=admin.username)
        acme = svc.workspace("acme")
        repo = svc.store.by_slug(acme.id, "widget")
        if repo is None:
            repo = svc.create(
                subject,
                acme,
                "widget",
                name="widget",
                is_private=False,
                description="A tiny library that turns numbers into widgets.",
                language="python",
            ).repo
        people = {u: accounts.store.user_by_username(u) for u in ("admin", "bob")}
        repo_id, path = repo.id, repo_path(s, repo)
        empty = svc.git(repo).is_empty()
    if empty:
        identities = {name: (u.display_name, u.email) for name, u in people.items() if u}
        _push_history(path, hook_env(settings, repo_id, actor_user_id=admin.id), identities)
    with session_scope(settings) as (session, s):
        svc = RepoService(session, s)
        ctx = svc.context(svc.store.by_id(repo_id))  # type: ignore[arg-type]
        head = svc.git(ctx.repo).resolve("main")
        if head is not None and svc.store.status(ctx.repo.id, head, "demo-ci") is None:
            subject = AuthSubject(kind="session", user_id=admin.id, username=admin.username)
            svc.set_status(
                subject,
                ctx,
                head,
                key="demo-ci",
                state="SUCCESSFUL",
                url=f"{settings.base_url}/acme/widget/commits/{head}",
                name="Demo CI",
                description="12 tests passed",
                refname="main",
            )
    return [
        f"  repository: {settings.base_url}/acme/widget (branch {FEATURE_BRANCH} is ready "
        "for a pull request)"
    ]


def _push_history(bare: Path, env: dict[str, str], people: dict[str, tuple[str, str]]) -> None:
    """Make the commits in a temporary clone with git, then push them (running the hook)."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base_env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
    with tempfile.TemporaryDirectory(prefix="appdock-demo-") as tmp:
        work = Path(tmp) / "widget"
        home = Path(tmp) / "home"
        home.mkdir()
        base_env["HOME"] = str(home)

        def git(*args: str, extra: dict[str, str] | None = None) -> str:
            return subprocess.run(
                ["git", "-c", "init.defaultBranch=main", *args],
                cwd=work if work.exists() else tmp,
                env={**base_env, **(extra or {})},
                check=True,
                capture_output=True,
                text=True,
            ).stdout

        git("init", "-q", str(work))
        start = datetime.now(UTC) - timedelta(days=len(DEMO_FILES) + 2)

        def commit(author: str, message: str, files: dict[str, str], when: datetime) -> None:
            for name, content in files.items():
                target = work / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            name, email = people.get(author, (author, f"{author}@example.test"))
            stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
            git("add", "-A")
            git(
                "commit",
                "-q",
                "-m",
                message,
                extra={
                    "GIT_AUTHOR_NAME": name,
                    "GIT_AUTHOR_EMAIL": email,
                    "GIT_AUTHOR_DATE": stamp,
                    "GIT_COMMITTER_NAME": name,
                    "GIT_COMMITTER_EMAIL": email,
                    "GIT_COMMITTER_DATE": stamp,
                },
            )

        for day, (author, message, files) in enumerate(DEMO_FILES):
            commit(author, message, files, start + timedelta(days=day, hours=10))
        git("checkout", "-q", "-b", FEATURE_BRANCH)
        author, message, feature_files = FEATURE_COMMIT
        readme = (work / "README.md").read_text()
        contents = {k: v for k, v in feature_files.items() if v is not None}
        contents["README.md"] = (
            readme + "\n## Contribute\n\nSee [CONTRIBUTING.md](CONTRIBUTING.md).\n"
        )
        commit(author, message, contents, datetime.now(UTC) - timedelta(hours=3))
        git("push", "-q", str(bare), "main", FEATURE_BRANCH, extra=env)


# ---- the example app (examples/hello_app) -------------------------------------------------------
EXAMPLE_APP_KEY = "io.appdock.example.hello"
EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "hello_app" / "app.py"


def start_example_app(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8001, wait: float = 15.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``examples/hello_app`` on a loopback port (its tenants kept in DATA_DIR) and wait
    until it serves its descriptor. Returns the process (the caller terminates it) and the
    descriptor URL."""
    import sys
    import time

    import httpx

    if not EXAMPLE_APP.exists():
        raise FileNotFoundError(f"{EXAMPLE_APP} is missing: run from a checkout of appdock")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    base = f"http://{host}:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE_APP),
            "--host",
            host,
            "--port",
            str(port),
            "--data",
            str(settings.data_dir / "hello-app-tenants.json"),
        ]
    )
    url = f"{base}/atlassian-connect.json"
    deadline = time.monotonic() + wait
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the example app exited with status {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError(f"the example app did not answer on {url} within {wait:.0f} s")
        time.sleep(0.2)


def install_example_app(settings: Settings, descriptor_url: str) -> list[str]:
    """Install the example app on the demo team ``acme`` as ``admin`` (again on every call: a
    reinstall gives the running app a fresh shared secret, so a restarted app with a lost tenant
    file still verifies its JWTs). Needs ``appdock demo`` first and loopback app URLs allowed
    (``APPDOCK_ALLOW_PRIVATE_APP_URLS=loopback``, as ``make run`` sets)."""
    from appdock.connect import flows
    from appdock.core.urls import Urls

    with session_scope(settings) as (session, s):
        accounts = AccountService(session, s.secret)
        acme = accounts.store.workspace_by_slug("acme")
        admin = accounts.store.user_by_username("admin")
        if acme is None or admin is None:
            return ["example app not installed: run `appdock demo` first"]
        acme_id, admin_id = acme.id, admin.id
        session.commit()
        fetched = flows.fetch_descriptor(s, descriptor_url, field="example app")
        outcome = flows.install(
            session, s, Urls(s.base_url), fetched=fetched, workspace_id=acme_id, user_id=admin_id
        )
    return [
        f"example app {outcome.app_name!r} installed on acme from {descriptor_url}",
        f"  its panel is on {settings.base_url}/acme/widget",
    ]
