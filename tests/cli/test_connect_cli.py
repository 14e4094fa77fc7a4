"""``appdock app lint`` and ``appdock marketplace``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from appdock.cli.main import app
from appdock.config import Settings
from appdock.models import MarketplaceListing
from tests.connect.fakeapp import FakeApp
from tests.factories.connect import descriptor

runner = CliRunner()


@pytest.fixture
def fake_app() -> Iterator[FakeApp]:
    served = FakeApp()
    yield served
    served.close()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("APPDOCK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("APPDOCK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("APPDOCK_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("APPDOCK_ALLOW_PRIVATE_APP_URLS", "loopback")
    return settings


def write(tmp_path: Path, data: object, name: str = "d.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


class TestLint:
    def test_clean_descriptor_exits_0(self, tmp_path: Path, env: Settings) -> None:
        r = runner.invoke(app, ["app", "lint", write(tmp_path, descriptor())])
        assert r.exit_code == 0, r.output
        assert "(com.example.app): 0 error(s), 0 warning(s)" in r.output

    def test_errors_and_warnings_are_printed_and_exit_1(
        self, tmp_path: Path, env: Settings
    ) -> None:
        bad = descriptor(scopes=["account", "repository:everything"], extra=1)
        r = runner.invoke(app, ["app", "lint", write(tmp_path, bad)])
        assert r.exit_code == 1
        assert 'error: scopes[1]: unknown scope "repository:everything"' in r.output
        assert "warning: extra: unknown top-level field; it will be ignored" in r.output

    def test_warnings_alone_exit_0(self, tmp_path: Path, env: Settings) -> None:
        r = runner.invoke(app, ["app", "lint", write(tmp_path, descriptor(modules={"x": []}))])
        assert r.exit_code == 0
        assert "warning: modules.x: unknown module type" in r.output

    def test_malformed_json(self, tmp_path: Path, env: Settings) -> None:
        r = runner.invoke(app, ["app", "lint", write(tmp_path, '{"key": ')])
        assert r.exit_code == 1
        assert "error: malformed JSON at line 1" in r.output

    def test_missing_file(self, tmp_path: Path, env: Settings) -> None:
        r = runner.invoke(app, ["app", "lint", str(tmp_path / "nope.json")])
        assert r.exit_code == 1
        assert "No such file" in r.output

    def test_by_url(self, env: Settings, fake_app: FakeApp) -> None:
        r = runner.invoke(app, ["app", "lint", fake_app.descriptor_url])
        assert r.exit_code == 0, r.output
        fake_app.behaviour.descriptor_type = "text/html"
        r = runner.invoke(app, ["app", "lint", fake_app.descriptor_url])
        assert r.exit_code == 1
        assert "not JSON" in r.output

    def test_https_required_when_the_operator_refuses_http(
        self, tmp_path: Path, env: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("APPDOCK_ALLOW_HTTP_APP_URLS", "false")
        r = runner.invoke(
            app, ["app", "lint", write(tmp_path, descriptor(baseUrl="http://a.example"))]
        )
        assert r.exit_code == 1
        assert "baseUrl: must use https" in r.output


class TestMarketplace:
    def test_add_list_remove(self, env: Settings, fake_app: FakeApp, db: Session) -> None:
        r = runner.invoke(app, ["marketplace", "add", fake_app.descriptor_url])
        assert r.exit_code == 0, r.output
        assert f"listed {fake_app.key} (Fake app {fake_app.key})" in r.output
        listing = db.scalar(select(MarketplaceListing))
        assert listing is not None
        assert listing.descriptor["key"] == fake_app.key
        db.rollback()
        r = runner.invoke(app, ["marketplace", "list"])
        assert f"{fake_app.key}\tFake app {fake_app.key}\t{fake_app.descriptor_url}" in r.output
        fake_app.descriptor["name"] = "Renamed"
        assert runner.invoke(app, ["marketplace", "add", fake_app.descriptor_url]).exit_code == 0
        assert "Renamed" in runner.invoke(app, ["marketplace", "list"]).output
        r = runner.invoke(app, ["marketplace", "remove", fake_app.key])
        assert r.exit_code == 0
        assert "removed" in r.output
        assert "the Marketplace is empty" in runner.invoke(app, ["marketplace", "list"]).output

    def test_add_refuses_a_bad_descriptor(self, env: Settings, fake_app: FakeApp) -> None:
        fake_app.descriptor["scopes"] = ["everything"]
        r = runner.invoke(app, ["marketplace", "add", fake_app.descriptor_url])
        assert r.exit_code == 1
        assert 'unknown scope "everything"' in r.output

    def test_remove_unknown(self, env: Settings) -> None:
        r = runner.invoke(app, ["marketplace", "remove", "nope"])
        assert r.exit_code == 1
        assert "no Marketplace listing with key 'nope'" in r.output
