"""Pull request pages: list, create form with preview, the pull request page and its forms."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.git import GitRepo
from appdock.models import Event, PullRequest, User
from appdock.repo.context import RepoContext
from appdock.repo.service import RepoService
from tests.factories.account import PASSWORD, make_team, make_user
from tests.factories.pullrequest import (
    git_of,
    make_branch,
    make_repo,
    open_pr,
    subject_of,
    write_commit,
)
from tests.web_helpers import csrf_from, login, post_form

BASE = "/acme/widget/pull-requests"


@dataclass
class World:
    alice: User
    bob: User
    repo: RepoContext
    git: GitRepo


@pytest.fixture
def world(db: Session, settings: Settings) -> World:
    alice = make_user(db, "alice", display_name="Alice Owner")
    bob = make_user(db, "bob", display_name="Bob Member")
    team = make_team(db, "acme", alice, bob)
    repo = make_repo(db, settings, alice, workspace=team)
    make_branch(
        settings, repo, "feature", {"page.html": "<script>alert(1)</script>\n"}, message="Add page"
    )
    return World(alice, bob, repo, git_of(settings, repo))


def _pr(db: Session, number: int = 1) -> PullRequest:
    db.rollback()
    return db.scalars(select(PullRequest).where(PullRequest.number == number)).one()


class TestList:
    def test_tabs_and_rows(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature", title="Add <b>page</b>")
        login(client, "alice", PASSWORD)
        r = client.get(BASE)
        assert r.status_code == 200
        assert "Add &lt;b&gt;page&lt;/b&gt;" in r.text and "<b>page</b>" not in r.text
        assert 'href="/acme/widget/pull-requests/1"' in r.text
        assert 'Open <span class="count">1</span>' in r.text
        merged = client.get(BASE + "?state=MERGED")
        assert "Add &lt;b&gt;" not in merged.text and "Nothing here" in merged.text

    def test_title_search_handles_quotes_and_accents(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature", title='Café "menu" support')
        login(client, "bob", PASSWORD)
        assert "menu" in client.get(BASE, params={"q": 'café "menu'}).text
        assert "No pull requests match" in client.get(BASE, params={"q": "tea"}).text

    def test_empty_state_invites_to_create(self, client: TestClient, world: World) -> None:
        login(client, "bob", PASSWORD)
        r = client.get(BASE)
        assert "No open pull requests" in r.text
        assert f'href="{BASE}/new"' in r.text

    def test_an_outsider_gets_404(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        make_user(db, "eve")
        open_pr(db, settings, world.bob, world.repo, "feature")
        login(client, "eve", PASSWORD)
        assert client.get(BASE).status_code == 404
        assert client.get(BASE + "/1").status_code == 404

    def test_the_sidebar_marks_pull_requests_active(self, client: TestClient, world: World) -> None:
        login(client, "bob", PASSWORD)
        r = client.get(BASE)
        assert 'class="active" aria-current="page"><span class="nav-icon">' in r.text
        assert r.text.count('aria-current="page"') >= 1


class TestCreateForm:
    def test_preview_shows_commits_and_escaped_diff(self, client: TestClient, world: World) -> None:
        login(client, "bob", PASSWORD)
        r = client.get(BASE + "/new?source=feature&destination=main")
        assert r.status_code == 200
        assert "Add page" in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert "<script>alert(1)</script>" not in r.text
        assert 'name="reviewers" value="' in r.text  # alice can be picked

    def test_submitting_opens_the_pull_request(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        login(client, "bob", PASSWORD)
        r = post_form(
            client,
            BASE + "/new?source=feature",
            BASE + "/new",
            {
                "title": "Add the page",
                "description": "Please **review**",
                "source": "feature",
                "destination": "main",
                "source_repo": "acme/widget",
                "reviewers": world.alice.uuid,
                "close_source_branch": "1",
            },
        )
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert r.headers["location"] == BASE + "/1"  # type: ignore[attr-defined]
        pr = _pr(db)
        assert pr.title == "Add the page" and pr.close_source_branch
        page = client.get(BASE + "/1")
        assert "<strong>review</strong>" in page.text and "Alice Owner" in page.text
        assert db.scalar(select(Event.key).where(Event.key == "pullrequest:created"))

    def test_a_bad_submission_shows_the_error(self, client: TestClient, world: World) -> None:
        login(client, "bob", PASSWORD)
        r = post_form(
            client,
            BASE + "/new",
            BASE + "/new",
            {"title": "x", "source": "nope", "destination": "main"},
        )
        assert r.status_code == 400  # type: ignore[attr-defined]
        assert "&#39;nope&#39; not found" in r.text  # type: ignore[attr-defined]

    def test_without_the_csrf_token_nothing_is_created(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        login(client, "bob", PASSWORD)
        r = client.post(BASE + "/new", data={"title": "x", "source": "feature"})
        assert r.status_code == 403
        assert db.scalar(select(PullRequest)) is None

    def test_anonymous_is_sent_to_log_in(self, client: TestClient, world: World) -> None:
        r = client.get(BASE + "/new", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


class TestPullRequestPage:
    @pytest.fixture
    def opened(self, db: Session, settings: Settings, world: World) -> World:
        open_pr(
            db,
            settings,
            world.bob,
            world.repo,
            "feature",
            title="Add page",
            description="Raw <img src=x onerror=alert(1)> stays text",
            reviewers=[world.alice],
        )
        return world

    def test_overview_commits_and_diff_tabs(self, client: TestClient, opened: World) -> None:
        login(client, "alice", PASSWORD)
        overview = client.get(BASE + "/1")
        assert overview.status_code == 200
        assert "&lt;img src=x onerror=alert(1)&gt;" in overview.text
        assert "<img src=x" not in overview.text
        assert 'action="/acme/widget/pull-requests/1/merge"' in overview.text
        assert "No conflicts" in overview.text
        assert client.get(BASE + "/1?tab=commits").text.count('class="commit-row"') == 1
        diff = client.get(BASE + "/1?tab=diff")
        assert "page.html" in diff.text and "&lt;script&gt;alert(1)" in diff.text

    def test_comment_approve_and_merge_through_the_forms(
        self, client: TestClient, db: Session, opened: World
    ) -> None:
        login(client, "alice", PASSWORD)
        page = BASE + "/1"
        r = post_form(client, page, page + "/comments", {"content": "Ship it"})
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert "Ship it" in client.get(page).text
        post_form(client, page, page + "/approve", {})
        assert "Approved · undo" in client.get(page).text
        post_form(
            client,
            page,
            page + "/merge",
            {"merge_strategy": "squash", "message": "Squashed page", "close_source_branch": "1"},
        )
        assert _pr(db).state == "MERGED"
        head = opened.git.commit("main")
        assert head.message.startswith("Squashed page") and len(head.parents) == 1
        assert opened.git.branch("feature") is None
        keys = list(db.scalars(select(Event.key).order_by(Event.id)))
        assert keys[-4:] == [
            "pullrequest:comment_created",
            "pullrequest:approved",
            "repo:push",
            "pullrequest:fulfilled",
        ]
        assert "Merged" in client.get(page).text

    def test_an_inline_comment_shows_in_the_diff(self, client: TestClient, opened: World) -> None:
        login(client, "alice", PASSWORD)
        page = BASE + "/1"
        post_form(
            client, page, page + "/comments", {"content": "why?", "path": "page.html", "line": "1"}
        )
        diff = client.get(page + "?tab=diff").text
        assert "why?" in diff and "on line 1" in diff

    def test_a_conflicting_merge_is_reported_and_nothing_moves(
        self, client: TestClient, db: Session, settings: Settings, opened: World
    ) -> None:
        write_commit(settings, opened.repo, {"page.html": "main\n"}, message="main")
        login(client, "alice", PASSWORD)
        main = opened.git.resolve("main")
        page = client.get(BASE + "/1")
        assert "Conflicts." in page.text and "<code>page.html</code>" in page.text
        r = post_form(client, BASE + "/1", BASE + "/1/merge", {"merge_strategy": "merge_commit"})
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert "merge conflicts in page.html" in client.get(BASE + "/1").text
        assert opened.git.resolve("main") == main and _pr(db).state == "OPEN"

    def test_decline_with_a_reason(self, client: TestClient, db: Session, opened: World) -> None:
        login(client, "bob", PASSWORD)
        post_form(client, BASE + "/1", BASE + "/1/decline", {"reason": "Not needed"})
        pr = _pr(db)
        assert pr.state == "DECLINED" and pr.reason == "Not needed"
        assert "Not needed" in client.get(BASE + "/1").text

    def test_a_reader_sees_no_merge_button_and_cannot_post_one(
        self, client: TestClient, db: Session, settings: Settings, opened: World
    ) -> None:
        make_user(db, "eve")
        RepoService(db, settings).update(subject_of(opened.alice), opened.repo, is_private=False)
        db.commit()
        login(client, "eve", PASSWORD)
        page = client.get(BASE + "/1")
        assert page.status_code == 200 and "/merge" not in page.text
        token = csrf_from(page.text)
        client.post(BASE + "/1/merge", data={"csrf_token": token})
        assert _pr(db).state == "OPEN"

    def test_editing_title_and_description(
        self, client: TestClient, db: Session, opened: World
    ) -> None:
        login(client, "bob", PASSWORD)
        r = post_form(
            client,
            BASE + "/1/edit",
            BASE + "/1/edit",
            {"title": "Renamed", "description": "New words", "destination": "main"},
        )
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert _pr(db).title == "Renamed"
        assert "New words" in client.get(BASE + "/1").text


class TestDashboard:
    def test_lists_reviews_waiting_and_own_pull_requests(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(
            db,
            settings,
            world.bob,
            world.repo,
            "feature",
            title="Bob asks",
            reviewers=[world.alice],
        )
        login(client, "alice", PASSWORD)
        page = client.get("/").text
        waiting = page.split("Waiting for your review")[1]
        assert "Bob asks" in waiting and 'href="/acme/widget/pull-requests/1"' in waiting
        login(client, "bob", PASSWORD)
        assert "Bob asks" in client.get("/").text.split("Opened by you")[1]

    def test_hides_pull_requests_in_repositories_no_longer_readable(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        from appdock.models import Membership

        open_pr(db, settings, world.bob, world.repo, "feature", title="Secret work")
        db.execute(Membership.__table__.delete().where(Membership.user_id == world.bob.id))
        db.commit()
        login(client, "bob", PASSWORD)
        assert "Secret work" not in client.get("/").text
