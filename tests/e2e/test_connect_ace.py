"""An app built with atlassian-connect-express (tests/connect/ace, shaped like ACE's Bitbucket
template) configured with ``AC_HOST_SCRIPT_URL`` = appdock's ``/atlassian-connect/all.js``: its
repository page and web panel render in Chromium, ACE's ``authenticate()`` accepts the iframe
JWT, its page completes the bridge handshake with our all.js and shows what it read back from
the host's API with ACE's own signed client."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.orm import Session

from tests.connect.test_e2e import ace_dir, free_port  # noqa: F401 - the session fixture
from tests.e2e.chromium import WAIT_MS, launched, new_page, shot
from tests.e2e.conftest import LiveServer
from tests.factories.account import PASSWORD, basic, make_app_password, make_team, make_user
from tests.factories.pullrequest import make_repo

pytestmark = pytest.mark.e2e

APP_KEY = "appdock-ace-test-app"


@dataclass
class Ace:
    base: str
    log: Path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as opened:
        yield opened


@pytest.fixture
def ace(ace_dir: Path, live: LiveServer, tmp_path: Path) -> Iterator[Ace]:  # noqa: F811
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AC_LOCAL_BASE_URL": base,
        "AC_HOST_SCRIPT_URL": live.base + "/atlassian-connect/all.js",
        "PORT": str(port),
        "NODE_ENV": "development",
    }
    log = tmp_path / "ace.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["node", "app.js"], cwd=ace_dir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the ACE app exited: " + log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the ACE app did not start: " + log.read_text()
            try:
                if httpx.get(base + "/atlassian-connect.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield Ace(base, log)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def installed(live: LiveServer, ace: Ace) -> str:
    """alice installs the ACE app on acme (development mode) through the development API;
    returns her UUID."""
    db: Session = live.sessions()
    try:
        alice = make_user(db, "alice", display_name="Alice Owner")
        team = make_team(db, "acme", alice, name="Acme")
        team.dev_mode = True
        db.commit()
        make_repo(db, live.settings, alice, "widget", workspace=team)
        password = make_app_password(db, alice, "account account:write repository")
        uuid = alice.uuid
    finally:
        db.close()
    r = httpx.post(
        f"{live.base}/api/2.0/account/acme/addons",
        json={"url": ace.base + "/atlassian-connect.json"},
        headers=basic("alice", password),
        timeout=30,
    )
    assert r.status_code == 201, r.text + ace.log.read_text()[-2000:]
    return uuid


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


class TestAtlassianConnectExpressInTheBrowser:
    def test_repository_page_and_panel_show_jwt_verified_content(
        self, page: Page, live: LiveServer, ace: Ace, installed: str
    ) -> None:
        log_in(page, live.base, "alice")
        page.goto(live.base + "/acme/widget")
        nav = page.locator(f"a[data-app-key='{APP_KEY}'][data-module-key='example-repo-page']")
        assert nav.inner_text().strip() == "Example Page"
        with page.expect_navigation():
            nav.click()
        frame_sel = f"iframe[id^='{APP_KEY}__example-repo-page__'][data-ap-established]"
        page.wait_for_selector(frame_sel, timeout=WAIT_MS)
        frame = next(f for f in page.frames if f.url.startswith(ace.base + "/connect-example"))
        verified = frame.locator("#verified").inner_text()
        assert verified.startswith(f"JWT verified by ACE for {installed} on ari:cloud:bitbucket")
        assert frame.locator("#workspaces").inner_text() == "200:acme"
        # the script ACE gave its page is ours, and it ran: AP exists and talks to the host
        assert frame.evaluate("() => document.querySelector('script').src") == (
            live.base + "/atlassian-connect/all.js"
        )
        location = frame.evaluate("() => new Promise(r => AP.getLocation(r))")
        assert location == page.url
        shot(page, "ace-repository-page")

        page.goto(live.base + "/acme/widget")
        page.wait_for_selector(
            f"iframe[id^='{APP_KEY}__example-web-panel__'][data-ap-established]", timeout=WAIT_MS
        )
        shot(page, "ace-repository-overview")
