"""The Jinja partials: module containers escape app text; the bridge config is inert JSON."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

from appdock.connect.ui.page import bridge_config
from appdock.connect.ui.resolver import RenderedModule, resolve
from appdock.web.templating import templates
from tests.factories.connect_ui import PANELS, evaluation, installed_module, page_context

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def render(template: str, **context: object) -> str:
    return templates.env.get_template(template).render(**context)


def rendered(**overrides: object) -> RenderedModule:
    [module] = resolve(
        [installed_module(**overrides)],
        page=page_context(),
        evaluation=evaluation(),
        location=overrides.get("location", PANELS),
    ).modules  # type: ignore[arg-type]
    return module


class TestModulePartial:
    def test_iframe_container_carries_escaped_json(self) -> None:
        module = rendered(name=EVIL, app_name=EVIL)
        out = render("connect/module.html", module=module)
        assert "<script>" not in out and "<img" not in out
        match = re.search(r'data-ap-module="([^"]*)"', out)
        assert match is not None
        data = json.loads(html.unescape(match.group(1)))
        assert data["url"] == module.url
        assert data["options"]["appName"] == EVIL
        assert 'class="ap-container ap-webPanels"' in out

    def test_link_escapes_name_tooltip_and_href(self) -> None:
        module = rendered(module_type="webItems", location="actions", name=EVIL, tooltip=EVIL)
        module = replace(module, url='https://x.example/"onmouseover="alert(3)')
        out = render("connect/module.html", module=module)
        assert "<script>" not in out and "<img" not in out
        assert '"onmouseover=' not in out
        assert 'rel="noopener noreferrer"' in out

    def test_dialog_trigger(self) -> None:
        module = rendered(
            module_type="webItems", location="actions", name="Open", target={"type": "dialog"}
        )
        out = render("connect/module.html", module=module)
        assert 'class="adk-web-item adk-dialog-trigger"' in out
        assert ">Open</a>" in out


class TestScriptsPartial:
    def test_config_cannot_close_its_script_tag(self) -> None:
        config = bridge_config(csrf_token="tok", page_context={"repository": "</script><script>x"})
        out = render("connect/scripts.html", connect_config=config)
        block = out.split('id="appdock-connect-config">', 1)[1].split("</script>", 1)[0]
        assert json.loads(block)["page"]["context"]["repository"] == "</script><script>x"
        scripts = re.findall(r'<script src="([^"]+)"', out)
        assert scripts == [
            "/atlassian-connect/host/jquery.js",
            "/static/connect/host-prelude.js",
            "/atlassian-connect/host/connect-host.js",
            "/static/connect/host.js",
        ]
