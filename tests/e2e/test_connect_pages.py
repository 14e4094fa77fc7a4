"""Apps inside the real host's pages, in Chromium: appdock served by uvicorn on 127.0.0.1, a
sample Connect app on localhost (another origin) that verifies every JWT with atlassian-jwt
(tests/e2e/connect_app.py).

Once per module, alice installs the app on the team acme through the real install flow (the
consent page, clicked in the browser). Then bob, a member (write, not admin), meets it: the
repository overview, the app's own page and a pull request show its frames, signed for him; the
bridge works (resize, request after Grant access, dialog, flag, proxyRequest); a webItem whose
condition he fails is absent; a frame that refuses framing shows a diagnostic; messages from
windows that are not the module's iframe are ignored. Uninstalling removes every app element.
Screenshots of the main pages go to test-output/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Frame, Page
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Installation, User, Workspace
from tests.conftest import BASE_URL, _empty_tables
from tests.e2e.chromium import WAIT_MS, launched, new_page, shot
from tests.e2e.conftest import LiveServer, start_live, stop_live
from tests.e2e.connect_app import APP_KEY, AppState, create_app
from tests.e2e.servers import Server, create_hostile_app
from tests.factories.account import PASSWORD, SECRET, make_team, make_user
from tests.factories.pullrequest import make_branch, make_repo, open_pr

pytestmark = pytest.mark.e2e

PANEL = f"iframe[id^='{APP_KEY}__repo-panel__']"


@dataclass
class World:
    live: LiveServer
    app: AppState
    app_server: Server
    pr_number: int
    bob_uuid: str
    client_key: str

    @property
    def base(self) -> str:
        return self.live.base

    def installation(self) -> Installation | None:
        db = self.live.sessions()
        try:
            return db.scalar(select(Installation).where(Installation.app_key == APP_KEY))
        finally:
            db.close()


def seed(live: LiveServer) -> tuple[int, User]:
    """alice owns the team acme (development mode on) with acme/widget, an open pull request
    and acme/framing; bob is a member (write, not admin)."""
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
        db.expunge(bob)
        return pr.pr.number, bob
    finally:
        db.close()


def log_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()  # whoever was signed in before
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def install_in_browser(page: Page, base: str, app: AppState) -> None:
    """alice installs the app on acme through the consent page, as a person would."""
    log_in(page, base, "alice")
    url = app.descriptor_url
    page.goto(base + "/site/addons/authorize?account=acme&descriptor_uri=" + quote(url))
    assert "Install Browser <Test> App?" in page.inner_text("h1")
    shot(page, "install-consent")
    with page.expect_navigation():
        page.click("button[name=action][value=grant]")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as running:
        yield running


@pytest.fixture(scope="module")
def world(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[World]:
    _empty_tables(database_url)
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("pages-data"),
        base_url=BASE_URL,
        secret_key=SECRET,
        allow_private_app_urls="loopback",
        webhook_worker=False,
    )
    live = start_live(settings)
    state = AppState(host_base=live.base)
    app_server = Server(create_app(state), host="localhost").start()
    state.base = app_server.base
    try:
        pr_number, bob = seed(live)
        with new_page(browser) as page:
            install_in_browser(page, live.base, state)
        found = World(live, state, app_server, pr_number, bob.uuid, "")
        inst = found.installation()
        assert inst is not None, "the install through the consent page did not complete"
        assert inst.client_key in state.tenants, "the app never got its installed callback"
        found.client_key = inst.client_key
        yield found
    finally:
        app_server.stop()
        stop_live(live)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as opened:
        yield opened


@pytest.fixture
def bob(page: Page, world: World) -> Page:
    log_in(page, world.base, "bob")
    return page


def app_frame(page: Page, world: World, path: str) -> Frame:
    for frame in page.frames:
        if frame.url.startswith(world.app.base + path):
            frame.wait_for_function("() => window.AP !== undefined", timeout=WAIT_MS)
            return frame
    raise AssertionError(f"no app frame {path}: {[f.url[:80] for f in page.frames]}")


def established(page: Page, selector: str) -> None:
    page.wait_for_selector(selector + "[data-ap-established]", timeout=WAIT_MS)


def request(frame: Frame, options: dict[str, Any]) -> dict[str, Any]:
    """AP.require('request') from inside the app's frame; {ok, body | error, status}."""
    result: dict[str, Any] = frame.evaluate(
        """options => new Promise(resolve => AP.require('request', request => request(
             Object.assign({}, options, {
               success: body => resolve({ok: true, body: body}),
               error: (xhr, s, err) => resolve({ok: false, error: String(err),
                                               status: xhr.status, text: xhr.responseText})
             }))))""",
        options,
    )
    return result


def grant_access(page: Page, world: World) -> None:
    """Follow the page's Grant access prompt and accept; back on the page afterwards."""
    prompt = page.locator(".adk-consent")
    prompt.wait_for(timeout=WAIT_MS)
    with page.expect_navigation():
        prompt.locator("a.adk-consent-grant").click()
    assert "/site/connect/grant" in page.url
    shot(page, "grant-access")
    with page.expect_navigation():
        page.click("#grant-access")


def revoke_all(page: Page, world: World) -> None:
    page.goto(world.base + "/account/settings/app-authorizations")
    shot(page, "app-authorizations")
    while page.locator(".authorization").count():
        with page.expect_navigation():
            page.locator(".authorization button", has_text="Revoke").first.click()


class TestFramesInThePages:
    def test_overview_app_page_and_pull_request_frames_are_signed_for_the_viewer(
        self, bob: Page, world: World
    ) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        frame = app_frame(page, world, "/panel")
        assert frame.locator("#jwt").inner_text() == "yes"
        seen = world.app.verified("/panel")[-1]
        assert seen.jwt_ok, seen.error
        assert seen.claims and seen.claims["sub"] == world.bob_uuid
        assert seen.claims["iss"] == world.client_key
        assert "repo=acme%2Fwidget" in seen.path
        shot(page, "app-repository-overview")

        nav = page.locator("a[data-app-key='com.example.browser'][data-module-key='app-page']")
        assert nav.inner_text().strip() == "Browser app page"
        with page.expect_navigation():
            nav.click()
        assert page.url.endswith("/acme/widget/addon/com.example.browser/app-page")
        established(page, f"iframe[id^='{APP_KEY}__app-page__']")
        assert app_frame(page, world, "/page").locator("#jwt").inner_text() == "yes"
        shot(page, "app-repository-page")

        page.goto(f"{world.base}/acme/widget/pull-requests/{world.pr_number}")
        established(page, f"iframe[id^='{APP_KEY}__pr-panel__']")
        seen = world.app.verified("/pr-panel")[-1]
        assert seen.jwt_ok, seen.error
        assert f"pr={world.pr_number}" in seen.path
        shot(page, "app-pull-request")

    def test_web_item_whose_condition_the_viewer_fails_is_absent(
        self, page: Page, world: World
    ) -> None:
        log_in(page, world.base, "bob")
        page.goto(world.base + "/acme/widget")
        assert page.locator("[data-module-key='app-page']").count() == 1
        assert page.locator("[data-module-key='admins-only']").count() == 0
        assert "Admins only item" not in page.content()
        # positive control: the owner, an admin, sees it
        log_in(page, world.base, "alice")
        page.goto(world.base + "/acme/widget")
        assert page.locator("[data-module-key='admins-only']").count() == 1

    def test_resize_changes_the_iframe_height(self, bob: Page, world: World) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        app_frame(page, world, "/panel").evaluate("() => AP.resize('100%', '321px')")
        page.wait_for_function(
            "sel => Math.abs(document.querySelector(sel).getBoundingClientRect().height - 321) < 1",
            arg=PANEL,
            timeout=WAIT_MS,
        )


class TestRequestAsTheViewer:
    def test_request_returns_the_viewer_after_grant_access_and_stops_after_revoke(
        self, bob: Page, world: World
    ) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        # the app declares an oauthConsumer: the page asks at once
        assert "wants to act for you" in page.locator(".adk-consent").inner_text()
        refused = request(app_frame(page, world, "/panel"), {"url": "/2.0/user"})
        assert refused["ok"] is False and refused["status"] == 403
        assert "you have not granted it access" in refused["error"]
        shot(page, "app-consent-prompt")

        grant_access(page, world)
        assert page.url == world.base + "/acme/widget"
        established(page, PANEL)
        assert page.locator(".adk-consent").count() == 0
        frame = app_frame(page, world, "/panel")
        me = request(frame, {"url": "/2.0/user"})
        assert me["ok"], me
        assert me["body"]["username"] == "bob" and me["body"]["uuid"] == world.bob_uuid
        repo = request(frame, {"url": "/2.0/repositories/acme/widget"})
        assert repo["ok"] and repo["body"]["full_name"] == "acme/widget"
        # bob may create a branch; the app (no repository:write) may not, for him
        head = repo["body"]["mainbranch"]["name"]
        branch = request(
            frame,
            {
                "url": "/2.0/repositories/acme/widget/refs/branches",
                "type": "POST",
                "contentType": "application/json",
                "data": '{"name": "from-app", "target": {"hash": "' + head + '"}}',
            },
        )
        assert branch["ok"] is False and branch["status"] == 403
        assert "repository:write" in branch["text"]

        revoke_all(page, world)
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        again = request(app_frame(page, world, "/panel"), {"url": "/2.0/user"})
        assert again["ok"] is False and again["status"] == 403


class TestDialogFlagAndProxy:
    def test_dialog_opens_and_its_submit_reaches_the_parent(self, bob: Page, world: World) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        panel = app_frame(page, world, "/panel")
        panel.evaluate("() => { AP.dialog.create({key: 'open-dialog'}); }")
        established(page, ".adk-dialog iframe")
        assert page.locator(".adk-dialog-title").inner_text() == "App dialog"
        shot(page, "app-dialog")
        page.evaluate(
            """() => { window.submitted = [];
                 document.addEventListener('appdock:dialog-submit',
                                           e => window.submitted.push(e.detail)); }"""
        )
        page.locator(".adk-dialog-button[data-identifier='submit']").click()
        page.wait_for_selector(".adk-dialog-overlay", state="detached", timeout=WAIT_MS)
        assert page.evaluate("() => window.submitted")[0]["moduleKey"] == "open-dialog"
        panel.wait_for_function("() => window.dialogClosed !== null", timeout=WAIT_MS)
        assert panel.evaluate("() => window.dialogClosed") == {"answer": 42}
        assert world.app.verified("/dialog")[-1].jwt_ok

    def test_dialog_by_url_is_signed_by_the_host_for_this_page(
        self, bob: Page, world: World
    ) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        app_frame(page, world, "/panel").evaluate(
            "() => { AP.dialog.create({url: '/dialog?via=url', chrome: false}); }"
        )
        established(page, ".adk-dialog iframe")
        seen = [s for s in world.app.verified("/dialog") if "via=url" in s.path][-1]
        assert seen.jwt_ok and seen.claims and seen.claims["sub"] == world.bob_uuid
        app_frame(page, world, "/dialog").evaluate("() => AP.dialog.close()")
        page.wait_for_selector(".adk-dialog-overlay", state="detached", timeout=WAIT_MS)

    def test_web_item_opens_the_dialog(self, bob: Page, world: World) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        page.locator("a[data-module-key='open-dialog']").click()
        established(page, ".adk-dialog iframe")
        page.locator(".adk-dialog-button[data-identifier='cancel']").click()
        page.wait_for_selector(".adk-dialog-overlay", state="detached", timeout=WAIT_MS)

    def test_flag_appears(self, bob: Page, world: World) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        app_frame(page, world, "/panel").evaluate(
            """() => { AP.flag.create({title: 'Saved <b>', body: 'All good', type: 'success',
                 close: 'manual'}); }"""
        )
        flag = page.locator(".adk-flag")
        flag.wait_for(timeout=WAIT_MS)
        assert flag.locator(".adk-flag-title").inner_text() == "Saved <b>"
        shot(page, "app-flag")

    def test_proxy_request_reaches_the_app_signed_for_the_viewer(
        self, bob: Page, world: World
    ) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        answer = app_frame(page, world, "/panel").evaluate(
            """() => new Promise(resolve => AP.require('proxyRequest', proxy => proxy({
                 url: '/echo', type: 'POST', data: 'x=1',
                 success: body => resolve(body), error: (x, s, e) => resolve({error: e})})))"""
        )
        assert answer == {
            "method": "POST",
            "user": world.bob_uuid,
            "repo": "acme/widget",
            "pr": "",
            "sub": world.bob_uuid,
            "body": "x=1",
        }
        assert world.app.verified("/proxied/echo")[-1].jwt_ok
        # on a pull request page the destination names that pull request (as Landkid needs)
        page.goto(f"{world.base}/acme/widget/pull-requests/{world.pr_number}")
        established(page, f"iframe[id^='{APP_KEY}__pr-panel__']")
        on_pr = app_frame(page, world, "/pr-panel").evaluate(
            """() => AP.proxyRequest({url: '/echo'}).then(r => r.body)"""
        )
        assert on_pr["pr"] == str(world.pr_number) and on_pr["method"] == "GET"


class TestSafety:
    def test_frame_refusing_to_be_framed_shows_a_diagnostic(self, bob: Page, world: World) -> None:
        page = bob
        page.goto(world.base + "/acme/framing")
        box = page.locator("[data-module-key='xfo-panel'] .adk-diagnostic")
        box.wait_for(timeout=WAIT_MS)
        text = box.inner_text()
        assert "did not load" in text and "X-Frame-Options" in text
        assert "Browser <Test> App" in text
        shot(page, "app-diagnostic")

    RESIZE = """([eid, height]) => (window.opener || window.top).postMessage({type: 'req',
        eid: eid, mid: 'm1', mod: 'env', fn: 'resize', args: ['100%', height]}, '*')"""
    INIT = """eid => window.top.postMessage({type: 'init', eid: eid}, '*')"""

    def test_bridge_messages_from_other_windows_are_ignored(self, bob: Page, world: World) -> None:
        page = bob
        page.goto(world.base + "/acme/widget")
        established(page, PANEL)
        eid = str(page.eval_on_selector(PANEL, "el => el.id"))
        panel = app_frame(page, world, "/panel")
        hostile = Server(create_hostile_app(), host="localhost").start()
        try:
            # a frame of the app's own origin that the bridge did not create (CSP allows it)
            page.evaluate(
                """src => { const f = document.createElement('iframe'); f.id = 'rogue';
                     f.src = src; document.body.appendChild(f); }""",
                world.app.base + "/atlassian-connect.json",
            )
            handle = page.wait_for_selector("#rogue", timeout=WAIT_MS)
            assert handle is not None
            rogue = handle.content_frame()
            assert rogue is not None
            rogue.wait_for_load_state()
            # a window of another origin that holds a reference to the page (a popup)
            with page.expect_popup() as popped:
                page.evaluate("url => { window.open(url); }", hostile.base + "/evil")
            popup = popped.value
            popup.wait_for_load_state()

            panel.evaluate(self.RESIZE, [eid, "222px"])  # positive control
            self._height(page, 222)
            rogue.evaluate(self.INIT, eid)
            rogue.evaluate(self.RESIZE, [eid, "444px"])
            popup.evaluate(self.RESIZE, [eid, "333px"])
            panel.evaluate(self.RESIZE, [eid, "250px"])  # barrier: processed after the others
            self._height(page, 250)
            assert (
                abs(page.eval_on_selector(PANEL, "e => e.getBoundingClientRect().height") - 250) < 1
            )
            popup.close()
        finally:
            hostile.stop()

    @staticmethod
    def _height(page: Page, px: int) -> None:
        page.wait_for_function(
            """([sel, h]) =>
                 Math.abs(document.querySelector(sel).getBoundingClientRect().height - h) < 1""",
            arg=[PANEL, px],
            timeout=WAIT_MS,
        )


class TestUninstall:
    """Last: the module's app is gone afterwards."""

    def test_after_uninstall_every_app_element_is_gone(self, page: Page, world: World) -> None:
        inst = world.installation()
        assert inst is not None
        log_in(page, world.base, "alice")
        page.goto(f"{world.base}/site/addons/installations/{inst.id}/remove")
        with page.expect_navigation():
            page.locator("form[action$='/remove'] button[type=submit]").click()
        assert world.installation() is None
        assert world.app.uninstalled, "the app was not told"
        log_in(page, world.base, "bob")
        for path in ("/acme/widget", f"/acme/widget/pull-requests/{world.pr_number}"):
            page.goto(world.base + path)
            assert page.locator("[data-app-key]").count() == 0, path
            assert page.locator(".adk-consent, .ap-container, .adk-dialog-trigger").count() == 0
            assert not [f for f in page.frames if f.url.startswith(world.app.base)], path
            if path == "/acme/widget":
                shot(page, "app-uninstalled")
        gone = page.goto(world.base + "/acme/widget/addon/com.example.browser/app-page")
        assert gone is not None and gone.status == 404
