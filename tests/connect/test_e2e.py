"""Cross-process tests: appdock served by uvicorn on a loopback port, apps calling it back.

- an app that checks its new secret by calling the REST API while it handles ``installed``
  (Sentry does), on install and on reinstall;
- an app built with atlassian-connect-express (npm, ``product: "bitbucket"``, shaped like its
  Bitbucket template; tests/connect/ace/) installed through the development API: its ``/installed``
  answers 204, a reinstall passes its check of the previous secret, its signed HTTP client reads
  the host's API, and its ``authenticate()`` accepts the host's iframe tokens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
import uvicorn
from atlassian_jwt.url_utils import hash_url
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.app import create_app
from appdock.config import Settings
from appdock.connect import jwt as connect_jwt
from appdock.core import crypto
from appdock.models import Installation
from tests.connect.fakeapp import FakeApp
from tests.factories.account import SECRET, basic, make_app_password, make_team, make_user

pytestmark = pytest.mark.e2e

ACE_DIR = Path(__file__).parent / "ace"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveHost:
    base: str
    settings: Settings

    @property
    def api(self) -> str:
        return self.base + "/api/2.0"


@pytest.fixture
def live_host(settings: Settings) -> Iterator[LiveHost]:
    port = free_port()
    live = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    app = create_app(live)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield LiveHost(live.base_url, live)
    server.should_exit = True
    thread.join(10)
    app.state.engine.dispose()


@pytest.fixture
def admin(db: Session) -> dict[str, str]:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    acme.dev_mode = True
    db.commit()
    return basic("alice", make_app_password(db, alice, "account account:write repository"))


def install(host: LiveHost, descriptor_url: str, auth: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{host.api}/account/acme/addons", json={"url": descriptor_url}, headers=auth, timeout=30
    )


class TestAppCallingBackDuringInstalled:
    def test_new_secret_works_on_the_api_before_the_app_answers(
        self, live_host: LiveHost, admin: dict[str, str]
    ) -> None:
        app = FakeApp("com.example.checker")
        seen: list[int] = []

        def check_secret(payload: dict[str, Any]) -> None:
            now = int(time.time())
            claims = {
                "iss": payload["key"],
                "sub": payload["clientKey"],
                "iat": now,
                "exp": now + 60,
                "qsh": hash_url("GET", "/2.0/workspaces"),
            }
            token = pyjwt.encode(claims, payload["sharedSecret"], algorithm="HS256")
            r = httpx.get(
                payload["baseApiUrl"] + "/2.0/workspaces",
                headers={"Authorization": f"JWT {token}"},
                timeout=10,
            )
            seen.append(r.status_code)
            app.behaviour.installed_status = 204 if r.status_code == 200 else 500

        app.behaviour.on_installed = check_secret
        try:
            first = install(live_host, app.descriptor_url, admin)
            assert first.status_code == 201, first.text
            second = install(live_host, app.descriptor_url, admin)
            assert second.status_code == 201, second.text
            assert seen == [200, 200]
        finally:
            app.close()


def _npm(*args: str) -> None:
    subprocess.run(["npm", *args], cwd=ACE_DIR, check=True, timeout=900)


@pytest.fixture(scope="session")
def ace_dir() -> Path:
    """The ACE app's dependencies from the committed lock file, installed when missing (as
    `make test` does): no install scripts except sqlite3's native build, which the template's
    store needs."""
    if not (ACE_DIR / "node_modules" / "atlassian-connect-express").exists():
        _npm("ci", "--ignore-scripts", "--no-audit", "--no-fund")
    probe = subprocess.run(["node", "-e", "require('sqlite3')"], cwd=ACE_DIR, capture_output=True)
    if probe.returncode != 0:
        _npm("rebuild", "sqlite3")
    return ACE_DIR


@dataclass
class AceApp:
    base: str
    log: Path

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=20, **kw)


@pytest.fixture
def ace_app(ace_dir: Path, tmp_path: Path) -> Iterator[AceApp]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AC_LOCAL_BASE_URL": base, "PORT": str(port), "NODE_ENV": "development"}
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
        yield AceApp(base, log)
    finally:
        proc.terminate()
        proc.wait(10)


class TestAtlassianConnectExpress:
    def test_installs_reinstalls_calls_back_and_uninstalls(
        self, live_host: LiveHost, admin: dict[str, str], ace_app: AceApp, db: Session
    ) -> None:
        descriptor_url = ace_app.base + "/atlassian-connect.json"
        first = install(live_host, descriptor_url, admin)
        assert first.status_code == 201, first.text + ace_app.log.read_text()[-2000:]
        assert ace_app.get("/test/installed-statuses").json() == [204]

        # ACE accepts a reinstall only when it is signed with the secret it stored
        second = install(live_host, descriptor_url, admin)
        assert second.status_code == 201, second.text
        assert ace_app.get("/test/installed-statuses").json() == [204, 204]
        client_key = second.json()["clientKey"]

        # ACE's signed HTTP client (qsh over /2.0/...) reads the host API as the installation
        r = ace_app.get(
            "/test/call-host", params={"clientKey": client_key, "path": "/2.0/workspaces"}
        )
        assert r.json()["status"] == 200, r.text
        assert '"slug":"acme"' in r.json()["body"]

        # ACE's authenticate() accepts the host's iframe token, then calls the host back
        inst = db.scalar(select(Installation))
        assert inst is not None
        secret = crypto.decrypt(SECRET, inst.shared_secret)
        db.rollback()
        url = connect_jwt.signed_url(
            ace_app.base + "/connect-example?repoPath=acme%2Fwidget",
            client_key=client_key,
            shared_secret=secret,
            app_base_url=ace_app.base,
            user_uuid="{00000000-0000-4000-8000-000000000001}",
        )
        page = httpx.get(url, timeout=20)
        assert page.status_code == 200, page.text
        assert '<p id="workspaces">200:acme</p>' in page.text

        # uninstall: the template has no /uninstalled route (404); the installation goes anyway
        gone = httpx.delete(
            f"{live_host.api}/account/acme/addons/{second.json()['id']}", headers=admin, timeout=30
        )
        assert gone.status_code == 204
        r = ace_app.get(
            "/test/call-host", params={"clientKey": client_key, "path": "/2.0/workspaces"}
        )
        assert r.json()["status"] == 401
