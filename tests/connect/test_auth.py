"""App JWTs across processes: two app instances (own engines, as two workers would have) on one
database. An uninstall or a new secret committed through one is in force on the other at the
very next request; nothing about an installation is cached but the decryption of its secret."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.app import create_app
from appdock.config import Settings
from appdock.core import crypto
from appdock.models import Installation
from tests.conftest import BASE_URL
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import app_jwt, descriptor, jwt_header, make_installation

PATH = "/2.0/workspaces/acme"
KEY = "com.example.twice"


@pytest.fixture
def two_clients(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    first, second = create_app(settings), create_app(settings)
    with (
        TestClient(first, base_url=BASE_URL) as a,
        TestClient(second, base_url=BASE_URL) as b,
    ):
        yield a, b
    first.state.engine.dispose()
    second.state.engine.dispose()


@pytest.fixture
def installed(db: Session) -> tuple[Installation, str]:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    # no lifecycle callbacks: uninstalling calls nobody
    return make_installation(db, acme, alice, key=KEY, raw=descriptor(KEY, lifecycle={}))


def token(inst: Installation, secret: str, method: str = "GET", path: str = PATH) -> str:
    return app_jwt(app_key=KEY, client_key=inst.client_key, secret=secret, method=method, path=path)


class TestTwoProcesses:
    def test_uninstall_through_one_refuses_on_the_other_at_once(
        self, two_clients: tuple[TestClient, TestClient], installed: tuple[Installation, str]
    ) -> None:
        a, b = two_clients
        inst, secret = installed
        for client in (a, b):  # warm both instances up
            assert client.get("/api" + PATH, headers=jwt_header(token(inst, secret))).is_success
        gone = b.delete(
            "/api/2.0/addon", headers=jwt_header(token(inst, secret, "DELETE", "/2.0/addon"))
        )
        assert gone.status_code == 204, gone.text
        r = a.get("/api" + PATH, headers=jwt_header(token(inst, secret)))
        assert r.status_code == 401 and "unknown clientKey" in r.json()["error"]["message"]

    def test_a_new_secret_replaces_the_old_one_at_once(
        self,
        two_clients: tuple[TestClient, TestClient],
        installed: tuple[Installation, str],
        db: Session,
    ) -> None:
        a, _b = two_clients
        inst, old = installed
        assert a.get("/api" + PATH, headers=jwt_header(token(inst, old))).is_success
        new = secrets.token_urlsafe(48)
        row = db.get(Installation, inst.id)
        assert row is not None
        row.shared_secret = crypto.encrypt(SECRET, new)  # what a reinstall writes
        db.commit()
        assert a.get("/api" + PATH, headers=jwt_header(token(inst, old))).status_code == 401
        assert a.get("/api" + PATH, headers=jwt_header(token(inst, new))).is_success
