"""Serving the bridge scripts from node_modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from appdock.connect.ui.routes import create_router, default_node_modules


def client(node_modules: Path | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(create_router(node_modules))
    return TestClient(app)


class TestBridgeRoutes:
    def test_node_modules_is_installed_for_the_suite(self) -> None:
        assert (default_node_modules() / "atlassian-connect-js/dist/iframe.js").is_file(), (
            "run `make install` (npm ci) before the tests"
        )

    @pytest.mark.parametrize(
        "path", ["/atlassian-connect/all.js", "/atlassian-connect/all-debug.js"]
    )
    def test_all_js_is_iframe_js_plus_our_plugin(self, path: str) -> None:
        response = client().get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=3600"
        iframe = (default_node_modules() / "atlassian-connect-js/dist/iframe.js").read_text()
        assert response.text.startswith(iframe[:2000])
        assert "appdock: the iframe half of the product modules" in response.text

    @pytest.mark.parametrize(
        ("path", "marker"),
        [
            ("/atlassian-connect/host/connect-host.js", "connectHost"),
            ("/atlassian-connect/host/jquery.js", "jQuery"),
        ],
    )
    def test_host_scripts_are_served(self, path: str, marker: str) -> None:
        response = client().get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert marker in response.text

    def test_etag_answers_not_modified(self) -> None:
        c = client()
        first = c.get("/atlassian-connect/all.js")
        again = c.get("/atlassian-connect/all.js", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""

    def test_missing_node_modules_is_a_clear_503(self, tmp_path: Path) -> None:
        response = client(tmp_path / "node_modules").get("/atlassian-connect/all.js")
        assert response.status_code == 503
        assert "make install" in response.text
        assert "atlassian-connect-js/dist/iframe.js" in response.text
        assert response.headers["cache-control"] == "no-store"

    def test_environment_variable_overrides_the_location(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("APPDOCK_NODE_MODULES_DIR", str(tmp_path))
        assert default_node_modules() == tmp_path
