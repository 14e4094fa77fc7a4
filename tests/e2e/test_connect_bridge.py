"""The AP bridge in a real browser: Debian's Chromium driven by Playwright, a test-only host page
built from appdock's resolver, partials and host.js, and a sample app on another origin that
loads /atlassian-connect/all.js from the host and verifies its JWT with atlassian-jwt.

Chromium must be at /usr/bin/chromium (``make test`` installs it); if it cannot start, these
tests fail, they never skip. Screenshots go to test-output/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Frame, Page

from tests.e2e.chromium import WAIT_MS, launched, new_page, shot
from tests.e2e.servers import (
    CLIENT_KEYS,
    CSRF_TOKEN,
    GRANT_URL,
    VIEWER_UUID,
    Stack,
    start_stack,
)

pytestmark = pytest.mark.e2e

SUBMIT = ".adk-dialog-button[data-identifier=submit]"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as opened:
        yield opened


def open_repo(page: Page, stack: Stack, query: str = "") -> None:
    page.goto(stack.host.base + "/repo" + query)
    page.wait_for_function(
        "() => document.querySelectorAll('iframe[data-ap-established]').length >= 3",
        timeout=WAIT_MS,
    )


def app_frame(page: Page, path: str) -> Frame:
    for frame in page.frames:
        if path in frame.url and "localhost" in frame.url:
            frame.wait_for_function("() => window.AP !== undefined", timeout=WAIT_MS)
            return frame
    raise AssertionError(f"no frame for {path}: {[f.url[:80] for f in page.frames]}")


def iframe_height(page: Page, module_key: str) -> float:
    return float(
        page.eval_on_selector(
            f"iframe[id^='com.example.bridge__{module_key}__']",
            "el => el.getBoundingClientRect().height",
        )
    )


def extension_id(page: Page, module_key: str) -> str:
    return str(
        page.eval_on_selector(f"iframe[id^='com.example.bridge__{module_key}__']", "el => el.id")
    )


def host_events(page: Page, name: str) -> list[dict[str, Any]]:
    events = page.evaluate("() => window.hostEvents")
    return [e["detail"] for e in events if e["name"] == name]


class TestModuleLoading:
    def test_panels_load_signed_and_verified_by_the_app(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        panel = [r for r in stack.sample.verified("/bb/panel") if "repo=" in r.path]
        assert panel, "the app never received the panel request"
        record = panel[-1]
        assert record.jwt_ok, record.error
        assert record.claims is not None
        assert record.claims["iss"] == CLIENT_KEYS["com.example.bridge"]
        assert record.claims["aud"] == CLIENT_KEYS["com.example.bridge"]
        assert record.claims["sub"] == VIEWER_UUID
        frame = app_frame(page, "/bb/panel")
        assert "repo=acme%2Fwidget" in frame.url
        assert "uuid=%7B5f8a2b1c-0001%7D" in frame.url
        assert frame.locator("#jwt").inner_text() == "yes"
        other = stack.sample.verified("/other/panel")
        assert other and other[-1].jwt_ok
        assert other[-1].claims and other[-1].claims["iss"] == CLIENT_KEYS["com.example.other"]
        shot(page, "bridge-repository-page")

    def test_module_whose_condition_fails_is_absent(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        assert page.locator("[data-module-key='admins']").count() == 0
        assert not any("admin=1" in f.url for f in page.frames)

    def test_app_text_is_escaped_in_the_page(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        trigger = page.locator("[data-module-key='dialog-module']")
        assert trigger.inner_text() == "Open <dialog>"
        assert page.locator("dialog").count() == 0

    def test_frame_refusing_to_be_framed_shows_a_diagnostic(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack, "?xfo=1")
        box = page.locator("[data-module-key='xfo'] .adk-diagnostic")
        box.wait_for(timeout=WAIT_MS)
        assert "did not load" in box.inner_text()
        assert "X-Frame-Options" in box.inner_text()
        assert "Bridge <Test> App" in box.inner_text()
        assert page.locator("[data-module-key='xfo'] .ap-iframe-container").is_hidden()
        assert host_events(page, "connect-timeout")[0]["moduleKey"] == "xfo"
        shot(page, "bridge-diagnostic")


class TestEnvModule:
    def test_resize_changes_the_iframe_height(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        frame.evaluate("() => AP.resize('100%', '321px')")
        page.wait_for_function(
            "() => Math.abs(document.querySelector(\"iframe[id^='com.example.bridge__panel__']\")"
            ".getBoundingClientRect().height - 321) < 1",
            timeout=WAIT_MS,
        )
        assert abs(iframe_height(page, "panel") - 321) < 1

    def test_size_to_parent_fills_a_full_page(self, page: Page, stack: Stack) -> None:
        page.goto(stack.host.base + "/acme/widget/addon/com.example.bridge/page")
        page.wait_for_selector("iframe[data-ap-established]", timeout=WAIT_MS)
        before = iframe_height(page, "page")
        app_frame(page, "/bb/page").evaluate("() => AP.sizeToParent()")
        page.wait_for_function(
            "h => document.querySelector('iframe').getBoundingClientRect().height > h + 100",
            arg=before,
            timeout=WAIT_MS,
        )
        top = page.eval_on_selector("iframe", "el => el.getBoundingClientRect().top")
        assert abs(iframe_height(page, "page") - (900 - top - 1)) < 2
        shot(page, "bridge-full-page")


class TestRequestModule:
    def test_require_request_returns_the_host_json(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        body = frame.evaluate(
            """() => new Promise((resolve, reject) => AP.require('request', request => request({
                 url: '/2.0/user', success: resolve, error: (xhr, s, e) => reject(e)})))"""
        )
        assert body == {"type": "user", "uuid": VIEWER_UUID, "display_name": "Alice <A>"}
        call = [c for c in stack.host_state.api_calls if c["path"] == "/api/2.0/user"][-1]
        assert call["app_key"] == "com.example.bridge"
        assert call["client_key"] == CLIENT_KEYS["com.example.bridge"]
        # even a GET: the host narrows the session to the app's grant only with the token
        assert call["csrf"] == CSRF_TOKEN

    def test_global_request_posts_with_csrf_token(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        result = frame.evaluate(
            """() => AP.request({url: '/2.0/echo', type: 'POST', contentType: 'application/json',
                 data: JSON.stringify({n: 1})}).then(r => ({body: r.body, status: r.xhr.status}))"""
        )
        assert result == {"body": {"echo": {"n": 1}, "app": "com.example.bridge"}, "status": 200}
        call = [c for c in stack.host_state.api_calls if c["path"] == "/api/2.0/echo"][-1]
        assert call["csrf"] == CSRF_TOKEN

    @pytest.mark.parametrize(
        "url", ["/../atlassian-connect/all.js", "//localhost/x", "https://example.com/2.0/user"]
    )
    def test_request_outside_the_api_is_refused(self, page: Page, stack: Stack, url: str) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        calls_before = len(stack.host_state.api_calls)
        outcome = frame.evaluate(
            """url => new Promise(resolve => AP.request({url: url,
                 success: () => resolve('success'), error: (xhr, s, err) => resolve(err)}))""",
            url,
        )
        assert outcome != "success"
        assert "url must" in outcome
        assert len(stack.host_state.api_calls) == calls_before

    def test_refused_for_want_of_consent_the_page_asks_the_viewer(
        self, page: Page, stack: Stack
    ) -> None:
        open_repo(page, stack)
        assert page.locator(".adk-consent").count() == 0  # not eager: no oauthConsumer
        frame = app_frame(page, "/bb/panel")
        outcome = frame.evaluate(
            """() => new Promise(resolve => AP.request({url: '/2.0/consent-needed',
                 success: () => resolve('success'),
                 error: (xhr, s, err) => resolve([xhr.status, err])}))"""
        )
        assert outcome[0] == 403
        assert "you have not granted it access" in outcome[1]
        prompt = page.locator(".adk-consent")
        prompt.wait_for(timeout=WAIT_MS)
        assert prompt.get_attribute("data-app-key") == "com.example.bridge"
        assert prompt.locator("strong").inner_text() == (
            "Bridge <Test> App wants to act for you on this site."
        )
        href = prompt.locator("a.adk-consent-grant").get_attribute("href")
        assert href == GRANT_URL + "&next=%2Frepo"
        # shown once, above the app's first element
        assert page.evaluate(
            """() => document.querySelector('.adk-consent').nextElementSibling
                 .matches('.ap-container[data-app-key="com.example.bridge"]')"""
        )
        frame.evaluate(
            """() => new Promise(resolve => AP.request({url: '/2.0/consent-needed',
                 error: () => resolve()}))"""
        )
        assert page.locator(".adk-consent").count() == 1
        shot(page, "bridge-consent-prompt")
        prompt.locator(".adk-consent-dismiss").click()
        assert page.locator(".adk-consent").count() == 0

    def test_proxy_request_without_endpoint_says_so(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        outcome = frame.evaluate(
            """() => new Promise(resolve => AP.require('proxyRequest', proxy => proxy({
                 url: '/land/1', success: () => resolve('success'),
                 error: (xhr, s, err) => resolve(err)})))"""
        )
        assert "proxyRequest is not available" in outcome


class TestDialogModule:
    def test_dialog_submit_reaches_the_host_and_the_opener(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        panel = app_frame(page, "/bb/panel")
        panel.evaluate("() => { AP.dialog.create({key: 'dialog-module', customData: {n: 1}}); }")
        page.wait_for_selector(".adk-dialog iframe[data-ap-established]", timeout=WAIT_MS)
        submit = page.locator(".adk-dialog-button[data-identifier='submit']")
        assert submit.is_enabled()
        dialog = app_frame(page, "/bb/dialog")
        dialog.wait_for_function("() => window.customData !== undefined", timeout=WAIT_MS)
        assert dialog.evaluate("() => window.customData") == {"n": 1}
        # The module's own target options apply under the caller's.
        assert page.locator(".adk-dialog-title").inner_text() == "Dialog"
        shot(page, "bridge-dialog")
        dialog.evaluate("() => AP.dialog.getButton('submit').disable()")
        page.wait_for_function(
            f"() => document.querySelector({SUBMIT!r}).disabled",
            timeout=WAIT_MS,
        )
        dialog.evaluate("() => AP.dialog.getButton('submit').enable()")
        page.wait_for_function(
            f"() => !document.querySelector({SUBMIT!r}).disabled",
            timeout=WAIT_MS,
        )
        submit.click()
        page.wait_for_selector(".adk-dialog-overlay", state="detached", timeout=WAIT_MS)
        assert host_events(page, "dialog-submit")[0]["moduleKey"] == "dialog-module"
        panel.wait_for_function("() => window.dialogClosed !== null", timeout=WAIT_MS)
        assert panel.evaluate("() => window.dialogClosed") == {
            "answer": 42,
            "customData": {"n": 1},
        }
        verified = stack.sample.verified("/bb/dialog")
        assert verified and verified[-1].jwt_ok

    def test_dialog_by_url_is_signed_through_the_resolve_endpoint(
        self, page: Page, stack: Stack
    ) -> None:
        open_repo(page, stack)
        panel = app_frame(page, "/bb/panel")
        panel.evaluate("() => { AP.dialog.create({url: '/dialog?via=url', chrome: false}); }")
        page.wait_for_selector(".adk-dialog iframe[data-ap-established]", timeout=WAIT_MS)
        call = stack.host_state.resolve_calls[-1]
        assert call["addonKey"] == "com.example.bridge"
        assert call["url"] == "/dialog?via=url"
        assert call["context"] == {"repository": "acme/widget"}
        verified = [r for r in stack.sample.verified("/bb/dialog") if "via=url" in r.path]
        assert verified and verified[-1].jwt_ok
        app_frame(page, "/bb/dialog").evaluate("() => AP.dialog.close()")
        page.wait_for_selector(".adk-dialog-overlay", state="detached", timeout=WAIT_MS)

    def test_dialog_by_url_outside_the_app_is_refused(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        panel = app_frame(page, "/bb/panel")
        panel.evaluate("() => { AP.dialog.create({url: 'https://example.com/phish'}); }")
        box = page.locator(".adk-dialog .adk-diagnostic")
        box.wait_for(timeout=WAIT_MS)
        assert "refused to sign" in box.inner_text()
        assert page.locator(".adk-dialog iframe").count() == 0

    def test_web_item_opens_its_dialog_and_cancel_closes_it(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        page.locator("[data-module-key='dialog-module']").click()
        page.wait_for_selector(".adk-dialog iframe[data-ap-established]", timeout=WAIT_MS)
        assert page.locator(".adk-dialog-title").inner_text() == "Dialog"
        box = page.locator(".adk-dialog").bounding_box()
        assert box is not None and abs(box["width"] - 480) < 2
        page.locator(".adk-dialog-button[data-identifier='cancel']").click()
        page.wait_for_selector(".adk-dialog-overlay", state="detached", timeout=WAIT_MS)
        assert host_events(page, "dialog-close")


class TestFlagAndMessages:
    def test_flag_appears_with_escaped_text(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        frame.evaluate(
            """() => { AP.flag.create({title: '<img src=x onerror="top.pwned=1">',
                 body: '<b>bold</b> body', type: 'success', close: 'manual'}); }"""
        )
        flag = page.locator(".adk-flag")
        flag.wait_for(timeout=WAIT_MS)
        assert flag.locator(".adk-flag-body").inner_text() == "<b>bold</b> body"
        assert flag.locator(".adk-flag-title").inner_text() == '<img src=x onerror="top.pwned=1">'
        assert page.locator(".adk-flags img, .adk-flags b").count() == 0
        assert page.evaluate("() => window.pwned") is None
        shot(page, "bridge-flag")

    def test_flag_close_event_reaches_the_app(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        frame.evaluate(
            """() => { window.flagClosed = false;
                 AP.events.on('flag.close', () => { window.flagClosed = true; });
                 AP.flag.create({title: 'T', body: 'B', close: 'manual'}); }"""
        )
        page.locator(".adk-flag-close").click()
        frame.wait_for_function("() => window.flagClosed === true", timeout=WAIT_MS)
        assert page.locator(".adk-flag").count() == 0

    def test_deprecated_messages_render_text_only(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        frame.evaluate(
            "() => { AP.messages.info('Note <i>x</i>', '<script>top.pwned=2</script>'); }"
        )
        message = page.locator(".adk-message-info")
        message.wait_for(timeout=WAIT_MS)
        assert message.locator(".adk-message-body").inner_text() == "<script>top.pwned=2</script>"
        assert page.locator(".adk-messages i, .adk-messages script").count() == 0


class TestEventsModule:
    def test_events_reach_frames_of_the_same_app_only(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        sender = app_frame(page, "/bb/panel")
        second = app_frame(page, "/bb/second")
        other = app_frame(page, "/other/panel")
        sender.evaluate("() => AP.events.emit('ping', {from: 'panel'})")
        second.wait_for_function("() => window.received.length > 0", timeout=WAIT_MS)
        assert second.evaluate("() => window.received") == [{"from": "panel"}]
        # Same message path, other app: nothing arrives (a second ping to the same app is the
        # barrier that proves the first one had time to arrive everywhere).
        sender.evaluate("() => AP.events.emit('ping', {from: 'again'})")
        second.wait_for_function("() => window.received.length > 1", timeout=WAIT_MS)
        assert other.evaluate("() => window.received") == []


class TestMessageChecks:
    RESIZE = """([eid, height]) => window.top.postMessage({type: 'req', eid: eid, mid: 'm1',
        mod: 'env', fn: 'resize', args: ['100%', height]}, '*')"""
    INIT = """eid => window.top.postMessage({type: 'init', eid: eid}, '*')"""

    def test_messages_from_a_wrong_origin_or_window_are_ignored(
        self, page: Page, stack: Stack
    ) -> None:
        open_repo(page, stack, "?hostile=1")
        eid = extension_id(page, "panel")
        panel = app_frame(page, "/bb/panel")
        hostile = next(f for f in page.frames if f.url.endswith("/evil"))
        rogue = next(f for f in page.frames if "framed-elsewhere" in f.url)

        # Positive control: the registered frame's own raw message resizes it.
        panel.evaluate(self.RESIZE, [eid, "222px"])
        page.wait_for_function(
            "id => Math.abs(document.getElementById(id).getBoundingClientRect().height - 222) < 1",
            arg=eid,
            timeout=WAIT_MS,
        )
        # Another origin, same message: ignored.
        hostile.evaluate(self.RESIZE, [eid, "333px"])
        # The app's own origin but another window, first claiming the channel: ignored.
        rogue.evaluate(self.INIT, eid)
        rogue.evaluate(self.RESIZE, [eid, "444px"])
        # Barrier: a later legitimate message is processed after the hostile ones.
        panel.evaluate(self.RESIZE, [eid, "250px"])
        page.wait_for_function(
            "id => Math.abs(document.getElementById(id).getBoundingClientRect().height - 250) < 1",
            arg=eid,
            timeout=WAIT_MS,
        )
        assert abs(iframe_height(page, "panel") - 250) < 1
        body = panel.evaluate(
            """() => new Promise(r => AP.request({url: '/2.0/user', success: r}))"""
        )
        assert body["display_name"] == "Alice <A>"


class TestProductModules:
    MODULES = [
        "request",
        "proxyRequest",
        "navigator",
        "cookie",
        "history",
        "dialog",
        "flag",
        "messages",
        "events",
        "env",
    ]

    def test_every_module_is_reachable_by_require_and_globally(
        self, page: Page, stack: Stack
    ) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        found = frame.evaluate(
            """names => Promise.all(names.map(name => new Promise(resolve =>
                 AP.require(name, module => resolve([name, typeof module, typeof AP[name]])))))""",
            self.MODULES,
        )
        assert {name: (required, glob) for name, required, glob in found} == {
            name: ("function" if name in ("request", "proxyRequest") else "object",) * 2
            for name in self.MODULES
        }
        for name in ("resize", "sizeToParent", "getLocation"):
            assert frame.evaluate(f"() => typeof AP.{name}") == "function"

    def test_navigator_cookie_and_history(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        location = frame.evaluate(
            "() => new Promise(r => AP.require('navigator', n => n.getLocation(r)))"
        )
        assert location["href"] == stack.host.base + "/repo"
        assert location["context"] == {"repository": "acme/widget"}
        value = frame.evaluate(
            """() => new Promise(r => { AP.cookie.save('theme', 'dark; path=/evil', 1);
                 AP.cookie.read('theme', r); })"""
        )
        assert value == "dark; path=/evil"
        cookies = page.context.cookies(stack.host.base)
        assert [c["name"] for c in cookies] == ["ap.com.example.bridge.theme"]
        frame.evaluate("() => AP.history.pushState('tab=2')")
        page.wait_for_function("() => location.hash === '#!tab%3D2'", timeout=WAIT_MS)
        assert frame.evaluate("() => AP.history.getState()") == "tab=2"
        remote = frame.evaluate("() => new Promise(r => AP.history.getState(r))")
        assert remote == "tab=2"

    def test_navigator_go_opens_the_apps_own_page(self, page: Page, stack: Stack) -> None:
        open_repo(page, stack)
        frame = app_frame(page, "/bb/panel")
        with page.expect_navigation(timeout=WAIT_MS):
            frame.evaluate("() => AP.navigator.go('addonmodule', {moduleKey: 'page'})")
        assert page.url == stack.host.base + "/acme/widget/addon/com.example.bridge/page"


class TestPageHeaders:
    def test_csp_frames_only_the_rendered_app_origins(self, stack: Stack) -> None:
        response = httpx.get(stack.host.base + "/repo")
        csp = response.headers["content-security-policy"]
        assert csp == f"frame-ancestors 'none'; frame-src {stack.app.base}"
        assert response.headers["x-frame-options"] == "DENY"

    def test_bridge_config_is_json_data_not_script(self, stack: Stack) -> None:
        html = httpx.get(stack.host.base + "/repo").text
        start = html.index('<script type="application/json" id="appdock-connect-config">')
        block = html[start:].split(">", 1)[1].split("</script>", 1)[0]
        config = json.loads(block)
        assert config["csrfToken"] == CSRF_TOKEN
        assert set(config["dialogs"]) == {"com.example.bridge", "com.example.other"}
