"""`appdock demo` seeds acme/widget with real git history and a branch ready for a pull request."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory
from appdock.demo import FEATURE_BRANCH, seed
from appdock.git import GitRepo
from appdock.models import CommitStatus, Event, Repository


def _counts(settings: Settings) -> tuple[int, int, str | None, bool]:
    engine = make_engine(settings.database_url_resolved)
    try:
        with make_session_factory(engine)() as s:
            repo = s.scalar(select(Repository).where(Repository.slug == "widget"))
            assert repo is not None
            events = s.scalar(select(func.count(Event.id))) or 0
            statuses = s.scalar(select(func.count(CommitStatus.id))) or 0
            return events, statuses, repo.mainbranch, repo.is_private
    finally:
        engine.dispose()


class TestDemoRepository:
    def test_history_feature_branch_and_idempotence(self, settings: Settings) -> None:
        lines = seed(settings)
        assert any("acme/widget" in line for line in lines)
        events, statuses, mainbranch, private = _counts(settings)
        assert mainbranch == "main" and not private and statuses == 1
        (path,) = settings.repos_dir.iterdir()
        git = GitRepo(path)
        assert git.count(["main"]) == 4
        assert git.count([FEATURE_BRANCH], ["main"]) == 1
        assert git.head_branch() == "main"
        authors = {c.author.email for c in git.log(["main"])}
        assert authors == {"admin@example.test", "bob@example.test"}
        seed(settings)
        assert _counts(settings)[:2] == (events, statuses)  # nothing new the second time
        assert git.count(["main"]) == 4


def test_demo_with_a_relative_data_dir(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` exports APPDOCK_DATA_DIR=var: git must still find the bare repositories while
    it runs in the demo's scratch clone."""
    monkeypatch.chdir(settings.data_dir.parent)
    relative = settings.model_copy(update={"data_dir": Path(settings.data_dir.name)})
    assert relative.repos_dir.is_absolute()
    seed(relative)
    (path,) = settings.repos_dir.iterdir()
    assert GitRepo(path).count(["main"]) == 4
