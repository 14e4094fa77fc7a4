"""Apps inside the real host's pages, in Chromium: appdock served by uvicorn on 127.0.0.1, a
sample Connect app on localhost (another origin) that verifies every JWT with atlassian-jwt.

The app is installed through the real install flow (the consent page, in the browser), then the
viewer meets it: the Grant access prompt and page, AP.request as the viewer, the list of
authorizations and revoking. Screenshots of the main pages go to test-output/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.models import Installation, Workspace
from tests.e2e.chromium import launched, new_page, shot
from tests.e2e.conftest import LiveServer
from tests.e2e.connect_app import APP_KEY, AppState, create_app
from tests.e2e.servers import Server
from tests.factories.account import PASSWORD, make_team, make_user
from tests.factories.pullrequest import make_branch, make_repo, open_pr

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as running:
        yield running


@dataclass
class World:
    live: LiveServer
    app: AppState
    pr_id: int

    @property
    def base(self) -> str:
        return self.live.base

    def installation(self) -> Installation | None:
        db = self.live.sessions()
        try:
            return db.scalar(select(Installation).where(Installation.app_key == APP_KEY))
        finally:
            db.close()


@pytest.fixture
def world(live: LiveServer) -> Iterator[World]:
    """alice owns the team acme (development mode on) with acme/widget and an open pull request;
    bob is a member (write, not admin); the sample app runs on localhost."""
    db: Session = live.sessions()
    try:
        alice = make_user(db, "alice", display_name="Alice Owner")
        bob = make_user(db, "bob", display_name="Bob Member")
        team = make_team(db, "acme", alice, bob, name="Acme")
        ws = db.get(Workspace, team.id)
        assert ws is not None
        ws.dev_mode = True
        db.commit()
        repo = make_repo(db, live.settings, alice, "widget", workspace=team)
        make_branch(live.settings, repo, "feature", {"feature.txt": "one\n"})
        pr = open_pr(db, live.settings, alice, repo, "feature", title="Add the feature")
        make_repo(db, live.settings, alice, "framing", workspace=team)
        pr_id = pr.pr.number
    finally:
        db.close()
    state = AppState(host_base=live.base)
    server = Server(create_app(state), host="localhost").start()
    state.base = server.base
    try:
        yield World(live, state, pr_id)
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as opened:
        yield opened


def log_in(page: Page, world: World, username: str) -> None:
    page.context.clear_cookies()  # whoever was signed in before
    page.goto(world.base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def install(page: Page, world: World) -> Installation:
    """alice installs the app on acme through the consent page, as a person would."""
    log_in(page, world, "alice")
    url = world.app.descriptor_url
    page.goto(world.base + "/site/addons/authorize?account=acme&descriptor_uri=" + quote(url))
    assert "Install Browser <Test> App?" in page.inner_text("h1")
    shot(page, "install-consent")
    with page.expect_navigation():
        page.click("button[name=action][value=grant]")
    inst = world.installation()
    assert inst is not None, page.content()[:500]
    assert inst.client_key in world.app.tenants
    return inst


def grant_page_url(world: World, client_key: str, next_url: str = "/acme/widget") -> str:
    return (
        f"{world.base}/site/connect/grant?client_key={quote(client_key, safe='')}"
        f"&next={quote(next_url, safe='')}"
    )


class TestInstallAndConsent:
    def test_install_then_grant_list_and_revoke(self, page: Page, world: World) -> None:
        inst = install(page, world)
        assert "Browser <Test> App" in page.content() or page.url.endswith("/addons")
        log_in(page, world, "bob")
        page.goto(grant_page_url(world, inst.client_key))
        scopes = page.inner_text("#grant-scopes")
        assert "Read your account information" in scopes
        assert "Read your repositories and their pull requests" in scopes
        assert "modify" not in scopes.lower()
        shot(page, "grant-access")
        with page.expect_navigation():
            page.click("#grant-access")
        assert page.url == world.base + "/acme/widget"
        page.goto(world.base + "/account/settings/app-authorizations")
        card = page.locator(".authorization")
        assert card.count() == 1 and "Browser <Test> App" in card.inner_text()
        shot(page, "app-authorizations")
        with page.expect_navigation():
            card.locator("button", has_text="Revoke").click()
        assert page.locator(".authorization").count() == 0
        assert "may no longer act for you" in page.content()
