"""``AP.request`` on the REST API: a session request relayed by host.js with the app's headers
acts as the viewer within the app's grant (:mod:`appdock.connect.ui.auth`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.account.store import AccountStore
from appdock.config import Settings
from appdock.connect.ui.grants import GrantService
from appdock.models import AppGrant, Installation, User, Workspace
from tests.connect.conftest import form_token, login
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import make_installation
from tests.factories.repo import commit_files, make_repo


def personal(db: Session, user: User) -> Workspace:
    ws = AccountStore(db).personal_workspace(user.id)
    assert ws is not None
    return ws


@pytest.fixture
def alice(db: Session) -> User:
    return make_user(db, "alice")


@pytest.fixture
def reader_app(db: Session, alice: User) -> Installation:
    """Installed on alice's own account with read scopes only."""
    inst, _ = make_installation(
        db, personal(db, alice), alice, key="com.example.reader", scopes="account repository"
    )
    return inst


def grant(db: Session, inst: Installation, user: User) -> None:
    GrantService(db, SECRET).grant(inst.client_key, user.id)
    db.commit()


def app_headers(client: TestClient, inst: Installation, *, csrf: bool = True) -> dict[str, str]:
    headers = {"X-Appdock-App-Key": inst.app_key, "X-Appdock-Client-Key": inst.client_key}
    if csrf:
        headers["X-CSRF-Token"] = form_token(client)
    return headers


class TestConsent:
    def test_without_a_grant_the_app_is_told_to_ask(
        self, client: TestClient, alice: User, reader_app: Installation
    ) -> None:
        login(client, "alice")
        r = client.get("/api/2.0/user", headers=app_headers(client, reader_app))
        assert r.status_code == 403
        error = r.json()["error"]
        assert "you have not granted it access" in error["message"]
        assert error["data"]["consent_required"] is True
        assert error["data"]["grant_url"].startswith("/site/connect/grant?client_key=")

    def test_with_a_grant_the_request_acts_as_the_viewer(
        self, client: TestClient, db: Session, alice: User, reader_app: Installation
    ) -> None:
        grant(db, reader_app, alice)
        login(client, "alice")
        r = client.get("/api/2.0/user", headers=app_headers(client, reader_app))
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "alice"

    def test_revoking_stops_the_next_request(
        self, client: TestClient, db: Session, alice: User, reader_app: Installation
    ) -> None:
        grant(db, reader_app, alice)
        login(client, "alice")
        headers = app_headers(client, reader_app)
        assert client.get("/api/2.0/user", headers=headers).status_code == 200
        grant_id = db.scalar(select(AppGrant.id))
        db.rollback()
        token = headers["X-CSRF-Token"]
        revoked = client.post(
            f"/account/settings/app-authorizations/{grant_id}/revoke",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert revoked.status_code == 303
        r = client.get("/api/2.0/user", headers=headers)
        assert r.status_code == 403 and r.json()["error"]["data"]["consent_required"] is True

    def test_the_csrf_header_is_required_even_for_reads(
        self, client: TestClient, db: Session, alice: User, reader_app: Installation
    ) -> None:
        grant(db, reader_app, alice)
        login(client, "alice")
        r = client.get("/api/2.0/user", headers=app_headers(client, reader_app, csrf=False))
        assert r.status_code == 403
        assert "did not come from this site" in r.json()["error"]["message"]

    def test_anonymous_viewers_are_refused_not_served_anonymously(
        self, client: TestClient, reader_app: Installation
    ) -> None:
        headers = {"X-Appdock-App-Key": reader_app.app_key, "X-Appdock-Client-Key": "x"}
        r = client.get("/api/2.0/repositories/alice", headers=headers)
        assert r.status_code == 403
        assert "signed-in viewer" in r.json()["error"]["message"]

    def test_another_apps_key_cannot_borrow_the_installation(
        self, client: TestClient, db: Session, alice: User, reader_app: Installation
    ) -> None:
        grant(db, reader_app, alice)
        login(client, "alice")
        headers = app_headers(client, reader_app)
        headers["X-Appdock-App-Key"] = "com.example.other"
        r = client.get("/api/2.0/user", headers=headers)
        assert r.status_code == 403
        assert "belongs to app" in r.json()["error"]["message"]


class TestOtherUsersSession:
    def test_someone_else_cannot_use_an_installation_on_alices_account(
        self, client: TestClient, db: Session, alice: User, reader_app: Installation
    ) -> None:
        grant(db, reader_app, alice)
        make_user(db, "mallory")
        login(client, "mallory")
        r = client.get("/api/2.0/user", headers=app_headers(client, reader_app))
        assert r.status_code == 404
        assert r.json()["error"]["message"].startswith("no installed app")

    def test_alices_grant_does_not_cover_a_teammate(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        bob = make_user(db, "bob")
        acme = make_team(db, "acme", alice, bob)
        inst, _ = make_installation(db, acme, alice, key="com.example.team")
        grant(db, inst, alice)
        login(client, "bob")
        r = client.get("/api/2.0/user", headers=app_headers(client, inst))
        assert r.status_code == 403 and r.json()["error"]["data"]["consent_required"] is True


class TestScopeLimit:
    def test_an_app_without_repository_write_cannot_create_a_branch_for_its_viewer(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        alice: User,
        reader_app: Installation,
    ) -> None:
        ctx = make_repo(db, settings, alice, "widget")
        head = commit_files(settings, ctx.repo, {"README.md": "hello\n"})
        grant(db, reader_app, alice)
        login(client, "alice")
        url = "/api/2.0/repositories/alice/widget/refs/branches"
        headers = app_headers(client, reader_app)
        # the app may read the repository for alice...
        assert client.get("/api/2.0/repositories/alice/widget", headers=headers).status_code == 200
        # ...but not write to it, although alice may
        body = {"name": "via-app", "target": {"hash": head}}
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "repository:write"
        plain = {"X-CSRF-Token": headers["X-CSRF-Token"]}
        mine = client.post(url, json={"name": "by-alice", "target": {"hash": head}}, headers=plain)
        assert mine.status_code == 201, mine.text

    def test_an_app_cannot_do_more_than_its_viewer(
        self, client: TestClient, db: Session, settings: Settings, alice: User
    ) -> None:
        make_repo(db, settings, alice, "secret")
        carol = make_user(db, "carol")
        inst, _ = make_installation(
            db, personal(db, carol), carol, key="com.example.all", scopes=None
        )
        grant(db, inst, carol)
        login(client, "carol")
        r = client.get("/api/2.0/repositories/alice/secret", headers=app_headers(client, inst))
        assert r.status_code == 404
