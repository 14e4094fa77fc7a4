"""`make run`'s demo: the example app (examples/hello_app) runs on a loopback port, is installed on
the demo team, and its panel, page and action show on the acme/widget overview — all over real
HTTP: the host in uvicorn, the app as its own process, the panel verifying its JWT and calling
the host's API back."""

from __future__ import annotations

import html
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from appdock.config import Settings
from appdock.demo import EXAMPLE_APP_KEY, install_example_app, seed, start_example_app
from tests.web_helpers import csrf_from


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def host(settings: Settings) -> Iterator[Settings]:
    from appdock.app import create_app

    port = _free_port()
    live = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    app = create_app(live)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "host did not start"
        time.sleep(0.05)
    yield live
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


def test_demo_repository_overview_shows_the_installed_example_app(host: Settings) -> None:
    lines = seed(host)
    password = next(line for line in lines if "log in as admin" in line).rsplit(" ", 1)[-1]
    app_port = _free_port()
    process, descriptor_url = start_example_app(host, port=app_port)
    try:
        assert install_example_app(host, descriptor_url)[0].startswith("example app")
        with httpx.Client(base_url=host.base_url, follow_redirects=False) as browser:
            form = browser.get("/login").text
            r = browser.post(
                "/login",
                data={"username": "admin", "password": password, "csrf_token": csrf_from(form)},
            )
            assert r.status_code == 303
            page = browser.get("/acme/widget", headers={"accept": "text/html"})
        assert page.status_code == 200
        modules = {
            d["moduleKey"]: d
            for d in (
                json.loads(html.unescape(m))
                for m in re.findall(r'data-ap-module="([^"]*)"', page.text)
            )
        }
        app_origin = f"http://127.0.0.1:{app_port}"
        panel = modules["hello-panel"]["url"]
        assert panel.startswith(f"{app_origin}/panel?repo=acme%2Fwidget&")
        assert modules["hello-action"]["kind"] == "dialog"  # the "Say hello" repository action
        assert f'href="/acme/widget/addon/{EXAMPLE_APP_KEY}/hello-page"' in page.text
        assert f"frame-src {app_origin}" in page.headers["content-security-policy"]
        # the frame as the browser loads it: the app verifies the JWT and reads the host's API
        framed = httpx.get(panel, timeout=20)
        assert framed.status_code == 200, framed.text
        assert "JWT verified for acme/widget" in framed.text
        assert "Document installation and usage" in framed.text  # a commit from the host's API
        # idempotent: installing again (as every `serve --with-example-app` does) still works
        install_example_app(host, descriptor_url)
    finally:
        process.terminate()
        process.wait(timeout=10)
