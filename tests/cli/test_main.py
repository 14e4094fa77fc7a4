"""The appdock command line, run as a real process the way operators run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory
from appdock.models import Membership, User, Workspace


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        APPDOCK_DATABASE_URL=settings.database_url,
        APPDOCK_DATA_DIR=str(settings.data_dir),
        APPDOCK_SECRET_KEY=settings.secret_key,
    )
    return subprocess.run(
        [sys.executable, "-m", "appdock", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def clean(settings: Settings) -> Settings:
    return settings


class TestUserCreate:
    def test_creates_user_with_personal_workspace(self, clean: Settings) -> None:
        r = run(clean, "user", "create", "alice", "--password", "long-password", "--admin")
        assert r.returncode == 0, r.stderr
        engine = make_engine(clean.database_url)
        with make_session_factory(engine)() as s:
            user = s.scalar(select(User).where(User.username == "alice"))
            assert user is not None and user.is_admin
            ws = s.scalar(select(Workspace).where(Workspace.slug == "alice"))
            assert ws is not None and ws.uuid == user.uuid and ws.kind == "personal"
        engine.dispose()

    def test_duplicate_is_one_line_error_exit_1(self, clean: Settings) -> None:
        run(clean, "user", "create", "alice", "--password", "long-password")
        r = run(clean, "user", "create", "alice", "--password", "long-password")
        assert r.returncode == 1
        assert r.stderr.strip() == "error: username: 'alice' is already taken"
        assert "Traceback" not in r.stderr

    def test_short_password_is_refused(self, clean: Settings) -> None:
        r = run(clean, "user", "create", "alice", "--password", "short")
        assert r.returncode == 1
        assert "password" in r.stderr


class TestAppPasswordCreate:
    def test_secret_is_last_line(self, clean: Settings) -> None:
        run(clean, "user", "create", "alice", "--password", "long-password")
        r = run(
            clean,
            "user",
            "app-password",
            "create",
            "alice",
            "--label",
            "ci",
            "--scopes",
            "account repository",
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1].startswith("adk_app_")

    def test_unknown_scope_names_it(self, clean: Settings) -> None:
        run(clean, "user", "create", "alice", "--password", "long-password")
        r = run(
            clean, "user", "app-password", "create", "alice", "--label", "ci", "--scopes", "bogus"
        )
        assert r.returncode == 1
        assert 'unknown scope "bogus"' in r.stderr


class TestTeam:
    def test_create_and_add_member(self, clean: Settings) -> None:
        run(clean, "user", "create", "alice", "--password", "long-password")
        run(clean, "user", "create", "bob", "--password", "long-password")
        assert (
            run(clean, "team", "create", "acme", "--name", "Acme", "--owner", "alice").returncode
            == 0
        )
        assert run(clean, "team", "add-member", "acme", "bob", "--admin").returncode == 0
        engine = make_engine(clean.database_url)
        with make_session_factory(engine)() as s:
            roles = sorted(
                s.scalars(select(Membership.role).join(Workspace).where(Workspace.slug == "acme"))
            )
        engine.dispose()
        assert roles == ["admin", "owner"]

    def test_unknown_owner(self, clean: Settings) -> None:
        r = run(clean, "team", "create", "acme", "--name", "Acme", "--owner", "ghost")
        assert r.returncode == 1
        assert r.stderr.strip() == "error: no user named 'ghost'"

    def test_dev_mode(self, clean: Settings) -> None:
        run(clean, "user", "create", "alice", "--password", "long-password")
        assert run(clean, "dev-mode", "on", "alice").returncode == 0
        r = run(clean, "dev-mode", "maybe", "alice")
        assert r.returncode == 1 and "on" in r.stderr


class TestDemo:
    def test_is_idempotent_and_prints_the_same_password(self, clean: Settings) -> None:
        first = run(clean, "demo")
        second = run(clean, "demo")
        assert first.returncode == 0, first.stderr
        assert second.returncode == 0, second.stderr
        line = next(x for x in first.stdout.splitlines() if "log in as admin" in x)
        assert line in second.stdout


class TestDatabaseErrors:
    def test_unmigrated_database_is_clear(self, tmp_path: Path) -> None:
        s = Settings(
            database_url=f"sqlite:///{tmp_path / 'empty.db'}",
            data_dir=tmp_path,
            secret_key="k" * 32,
        )
        r = run(s, "user", "create", "alice", "--password", "long-password")
        assert r.returncode == 1
        assert "appdock db upgrade" in r.stderr
        assert "Traceback" not in r.stderr

    def test_db_upgrade_creates_sqlite_under_data_dir(self, tmp_path: Path) -> None:
        env = dict(os.environ, APPDOCK_DATA_DIR=str(tmp_path / "fresh"))
        env.pop("APPDOCK_DATABASE_URL", None)
        r = subprocess.run(
            [sys.executable, "-m", "appdock", "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "fresh" / "appdock.db").exists()
