"""`appdock demo` also opens a pull request from feature/readme and files two issues, once."""

from __future__ import annotations

from sqlalchemy import func, select

from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory
from appdock.demo import seed
from appdock.models import Event, Issue, PullRequest, PullRequestParticipant


def _state(settings: Settings) -> tuple[list[tuple[str, str, str]], int, int, list[str | None]]:
    engine = make_engine(settings.database_url_resolved)
    try:
        with make_session_factory(engine)() as s:
            prs = [
                (p.source_branch, p.destination_branch, p.state)
                for p in s.scalars(select(PullRequest))
            ]
            issues = s.scalar(select(func.count(Issue.id))) or 0
            events = s.scalar(select(func.count(Event.id))) or 0
            reviews = list(s.scalars(select(PullRequestParticipant.state)))
            return prs, issues, events, reviews
    finally:
        engine.dispose()


class TestDemoReviews:
    def test_a_pull_request_and_issues_once(self, settings: Settings) -> None:
        lines = seed(settings)
        assert any("open pull request" in line for line in lines)
        prs, issues, events, reviews = _state(settings)
        assert prs == [("feature/readme", "main", "OPEN")]
        assert issues == 2
        assert reviews == ["approved"]
        seed(settings)
        assert _state(settings) == (prs, issues, events, reviews)

    def test_makes_the_repository_and_branch_when_missing(self, settings: Settings) -> None:
        from appdock.account.service import AccountService
        from appdock.cli.common import session_scope
        from appdock.demo_reviews import seed_reviews

        with session_scope(settings) as (session, s):
            accounts = AccountService(session, s.secret)
            admin = accounts.create_user("admin", "pw-admin-123", email="admin@example.test")
            bob = accounts.create_user("bob", "pw-bob-123456", email="bob@example.test")
            team = accounts.create_team("acme", "Acme", admin)
            accounts.add_member(team, bob, "member")
        assert seed_reviews(settings)
        prs, issues, _events, _reviews = _state(settings)
        assert prs == [("feature/readme", "main", "OPEN")] and issues == 2
