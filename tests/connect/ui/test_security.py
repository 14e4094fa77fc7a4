"""Sandbox tokens, frameability and the page CSP."""

from __future__ import annotations

import json

from appdock.connect.ui.page import bridge_config, page_csp
from appdock.connect.ui.resolver import resolve
from appdock.connect.ui.security import (
    SANDBOX_TOKENS,
    content_security_policy,
    frame_src,
    frameable,
)
from tests.factories.connect_ui import PANELS, evaluation, installed_module, page_context


class TestSandbox:
    def test_bridge_tokens_present_and_escapes_absent(self) -> None:
        assert {"allow-scripts", "allow-same-origin"} <= set(SANDBOX_TOKENS)
        for forbidden in ("allow-top-navigation", "allow-modals", "allow-downloads"):
            assert forbidden not in SANDBOX_TOKENS

    def test_app_on_the_host_origin_is_not_frameable(self) -> None:
        assert frameable("https://app.example.com/x", "https://git.example.com")
        assert not frameable("https://git.example.com/apps/x", "https://git.example.com/")
        assert not frameable("/relative", "https://git.example.com")


class TestCsp:
    def test_frame_src_lists_unique_sorted_origins(self) -> None:
        assert frame_src(["https://b.example", "https://a.example", "https://b.example"]) == (
            "frame-src https://a.example https://b.example"
        )

    def test_no_apps_means_no_frames(self) -> None:
        assert content_security_policy([]) == "frame-ancestors 'none'; frame-src 'none'"

    def test_header_injection_is_impossible(self) -> None:
        policy = content_security_policy(["https://a.example; script-src *", "javascript:x"])
        assert policy == "frame-ancestors 'none'; frame-src 'none'"

    def test_page_csp_combines_locations_and_dialogs(self) -> None:
        one = resolve(
            [installed_module()], page=page_context(), evaluation=evaluation(), location=PANELS
        )
        other = installed_module(app_key="b", base_url="https://b.example.net", module_key="d")
        dialogs = resolve([other], page=page_context(), evaluation=evaluation()).modules
        assert page_csp([one], dialogs) == (
            "frame-ancestors 'none'; frame-src https://app.example.com https://b.example.net"
        )


class TestBridgeConfig:
    def test_config_maps_dialog_urls_and_page_facts(self) -> None:
        one = resolve(
            [installed_module()], page=page_context(), evaluation=evaluation(), location=PANELS
        )
        config = bridge_config(
            csrf_token="tok",
            resolutions=[one],
            page_target="repository",
            page_context={"repository": "acme/widget"},
            addon_page_url="/acme/widget/addon/{app_key}/{module_key}",
        )
        assert config["csrfToken"] == "tok"
        assert config["dialogs"] == {
            "com.example.app": {"panel": {"url": one.modules[0].url, "dialog": {}}}
        }
        assert config["page"] == {"target": "repository", "context": {"repository": "acme/widget"}}
        assert config["apiBase"] == "/api" and config["proxyBase"] == "/site/connect/proxy"
        json.dumps(config)
