"""Issue tracker pages: the list with filters, the create form, the issue page and its forms."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Event, Issue, IssueComment, User
from appdock.repo.context import RepoContext
from tests.factories.account import PASSWORD, make_team, make_user
from tests.factories.pullrequest import make_issue, make_repo
from tests.web_helpers import login, post_form

BASE = "/acme/widget/issues"


@pytest.fixture
def repo(db: Session, settings: Settings) -> RepoContext:
    alice = make_user(db, "alice", display_name="Alice Owner")
    bob = make_user(db, "bob", display_name="Bob Member")
    team = make_team(db, "acme", alice, bob)
    ctx = make_repo(db, settings, alice, workspace=team)
    make_issue(db, settings, alice, ctx, "Crash <script>", kind="bug", priority="critical")
    make_issue(db, settings, bob, ctx, "Dark mode", kind="enhancement", priority="minor")
    make_issue(db, settings, bob, ctx, "Old thing", state="resolved")
    return ctx


def _issue(db: Session, number: int) -> Issue:
    db.rollback()
    return db.scalars(select(Issue).where(Issue.number == number)).one()


class TestList:
    def test_open_tab_by_default_and_escaped_titles(
        self, client: TestClient, repo: RepoContext
    ) -> None:
        login(client, "bob", PASSWORD)
        r = client.get(BASE)
        assert r.status_code == 200
        assert "#1: Crash &lt;script&gt;" in r.text and "<script>" not in r.text.split("<body")[1]
        assert "Dark mode" in r.text and "Old thing" not in r.text
        assert 'Open <span class="count">2</span>' in r.text
        closed = client.get(BASE + "?status=closed")
        assert "Old thing" in closed.text and "Dark mode" not in closed.text

    def test_filters_by_kind_priority_and_text(self, client: TestClient, repo: RepoContext) -> None:
        login(client, "bob", PASSWORD)
        assert "Dark mode" not in client.get(BASE + "?kind=bug").text
        assert "Crash" not in client.get(BASE + "?priority=minor").text
        r = client.get(BASE + "?status=all&q=old")
        assert "Old thing" in r.text and "Dark mode" not in r.text

    def test_text_search_handles_quotes_and_accents(
        self, client: TestClient, db: Session, settings: Settings, repo: RepoContext
    ) -> None:
        alice = db.scalars(select(User).where(User.username == "alice")).one()
        make_issue(db, settings, alice, repo, 'Café "menu" broken')
        login(client, "bob", PASSWORD)
        r = client.get(BASE, params={"q": 'café "menu'})
        assert "menu" in r.text and "Dark mode" not in r.text

    def test_assigned_to_me(
        self, client: TestClient, db: Session, settings: Settings, repo: RepoContext
    ) -> None:
        alice = db.scalars(select(User).where(User.username == "alice")).one()
        make_issue(db, settings, alice, repo, "Mine", assignee="bob")
        login(client, "bob", PASSWORD)
        r = client.get(BASE + "?mine=1")
        assert "Mine" in r.text and "Dark mode" not in r.text

    def test_an_outsider_gets_404(self, client: TestClient, db: Session, repo: RepoContext) -> None:
        make_user(db, "eve")
        login(client, "eve", PASSWORD)
        assert client.get(BASE).status_code == 404
        assert client.get(BASE + "/1").status_code == 404


class TestCreate:
    def test_the_form_files_an_issue(
        self, client: TestClient, db: Session, repo: RepoContext
    ) -> None:
        login(client, "bob", PASSWORD)
        r = post_form(
            client,
            BASE + "/new",
            BASE + "/new",
            {
                "title": "Widget wobbles",
                "content": "It **wobbles**",
                "kind": "task",
                "priority": "blocker",
                "assignee": "alice",
            },
        )
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert r.headers["location"] == BASE + "/4"  # type: ignore[attr-defined]
        issue = _issue(db, 4)
        assert (issue.kind, issue.priority) == ("task", "blocker")
        page = client.get(BASE + "/4").text
        assert "<strong>wobbles</strong>" in page and "Alice Owner" in page

    def test_errors_keep_what_was_typed(self, client: TestClient, repo: RepoContext) -> None:
        login(client, "bob", PASSWORD)
        r = post_form(client, BASE + "/new", BASE + "/new", {"title": "  ", "content": "kept"})
        assert r.status_code == 400  # type: ignore[attr-defined]
        assert "title: must not be empty" in r.text and ">kept</textarea>" in r.text  # type: ignore[attr-defined]

    def test_without_csrf_nothing_is_filed(
        self, client: TestClient, db: Session, repo: RepoContext
    ) -> None:
        login(client, "bob", PASSWORD)
        assert client.post(BASE + "/new", data={"title": "x"}).status_code == 403
        assert db.scalar(select(Issue).where(Issue.title == "x")) is None


class TestIssuePage:
    def test_change_state_with_a_comment(
        self, client: TestClient, db: Session, repo: RepoContext
    ) -> None:
        login(client, "alice", PASSWORD)
        page = BASE + "/1"
        r = post_form(
            client,
            page,
            page + "/change",
            {
                "state": "resolved",
                "kind": "bug",
                "priority": "critical",
                "assignee": "bob",
                "message": "Fixed it",
            },
        )
        assert r.status_code == 303  # type: ignore[attr-defined]
        issue = _issue(db, 1)
        assert issue.state == "resolved" and issue.assignee_user_id is not None
        text = client.get(page).text
        assert (
            "Fixed it" in text
            and "changed status from <strong>new</strong> to <strong>resolved</strong>" in text
        )
        (event,) = db.scalars(select(Event).where(Event.key == "issue:updated")).all()
        assert event.payload["changes"]["state"] == {"old": "new", "new": "resolved"}

    def test_comment_and_delete_it(
        self, client: TestClient, db: Session, repo: RepoContext
    ) -> None:
        login(client, "bob", PASSWORD)
        page = BASE + "/1"
        post_form(client, page, page + "/comments", {"content": "Me *too*"})
        assert "Me <em>too</em>" in client.get(page).text
        db.rollback()
        comment = db.scalars(select(IssueComment)).one()
        post_form(client, page, page + f"/comments/{comment.id}/delete", {})
        db.rollback()
        assert db.scalar(select(IssueComment)) is None

    def test_a_member_who_did_not_report_it_can_still_change_it(
        self, client: TestClient, db: Session, repo: RepoContext
    ) -> None:
        login(client, "bob", PASSWORD)
        post_form(client, BASE + "/1", BASE + "/1/change", {"state": "open"})
        assert _issue(db, 1).state == "open"

    def test_deleting_an_issue(self, client: TestClient, db: Session, repo: RepoContext) -> None:
        login(client, "alice", PASSWORD)
        r = post_form(client, BASE + "/2", BASE + "/2/delete", {})
        assert r.headers["location"] == BASE  # type: ignore[attr-defined]
        db.rollback()
        assert db.scalar(select(Issue).where(Issue.number == 2)) is None
