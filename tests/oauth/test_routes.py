"""The JWT bearer grant and the refresh grant at /site/oauth2/access_token, and the access tokens
they issue on the REST API: shapes, every refusal as OAuth JSON, and the attacks (wrong secret,
expired, unknown or uninstalled app, another app's data, refresh after uninstall)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from atlassian_jwt.url_utils import hash_url
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.connect.service import ConnectService
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.models import AppAccessToken, Installation
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import app_jwt, make_installation
from tests.factories.repo import make_repo

TOKEN = "/site/oauth2/access_token"
GRANT = "urn:bitbucket:oauth2:jwt"
API = "/api/2.0"


@dataclass
class App:
    key: str
    client_key: str
    secret: str
    installation_id: int

    def jwt(
        self, method: str = "POST", path: str = TOKEN, secret: str | None = None, **kw: Any
    ) -> str:
        return app_jwt(
            app_key=self.key,
            client_key=self.client_key,
            secret=secret or self.secret,
            method=method,
            path=path,
            **kw,
        )


@dataclass
class World:
    acme_app: App
    other_app: App
    narrow_app: App


@pytest.fixture
def world(db: Session, settings: Settings) -> World:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    make_repo(db, settings, alice, "widget", workspace=acme)
    mallory = make_user(db, "mallory")
    other = make_team(db, "other", mallory)
    make_repo(db, settings, mallory, "secret", workspace=other)

    def app(ws: Any, key: str, scopes: str) -> App:
        inst, secret = make_installation(db, ws, key=key, scopes=scopes)
        return App(key, inst.client_key, secret, inst.id)

    return World(
        acme_app=app(acme, "com.example.a", "account repository pullrequest"),
        other_app=app(other, "com.example.b", "account repository"),
        narrow_app=app(acme, "com.example.narrow", "account"),
    )


def grant(client: TestClient, token: str | None, **form: str) -> Any:
    headers = {"Authorization": f"JWT {token}"} if token else {}
    return client.post(TOKEN, data={"grant_type": GRANT, **form}, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def oauth_error(r: Any) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body["error"], body["error_description"]


def uninstall(db: Session, installation_id: int) -> None:
    inst = db.get(Installation, installation_id)
    assert inst is not None
    ConnectService(db, SECRET, Urls("http://testserver")).uninstall(inst)
    db.commit()


class TestJwtBearerGrant:
    def test_returns_a_bitbucket_token_response(self, client: TestClient, world: World) -> None:
        r = grant(client, world.acme_app.jwt())
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scopes", "refresh_token"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 7200
        assert body["scopes"] == "account pullrequest repository"
        assert body["access_token"].startswith("adk_at_")
        assert body["refresh_token"].startswith("adk_rt_")
        assert r.headers["cache-control"] == "no-store"

    @pytest.mark.parametrize("method", ["POST", "GET"])
    def test_qsh_over_post_or_get_is_accepted(
        self, client: TestClient, world: World, method: str
    ) -> None:
        assert grant(client, world.acme_app.jwt(method=method)).status_code == 200

    def test_a_token_without_qsh_is_accepted(self, client: TestClient, world: World) -> None:
        token = world.acme_app.jwt(qsh="")
        assert grant(client, token).status_code == 200

    def test_qsh_over_another_path_is_refused(self, client: TestClient, world: World) -> None:
        r = grant(client, world.acme_app.jwt(method="GET", path="/2.0/user"))
        status, error, why = oauth_error(r)
        assert (status, error) == (400, "invalid_grant")
        assert "qsh" in why and "POST&/site/oauth2/access_token&" in why

    def test_the_jwt_may_come_as_a_form_field(self, client: TestClient, world: World) -> None:
        r = grant(client, None, jwt=world.acme_app.jwt())
        assert r.status_code == 200, r.text

    def test_the_qsh_pinned_by_the_spec_matches(self) -> None:
        assert hash_url("POST", TOKEN) == (
            "f045c19462bc33df6431a1f69800ff8fc9e839dfea9d080be9f2bcd59360c73b"
        )

    def test_the_token_reads_as_the_installation(self, client: TestClient, world: World) -> None:
        access = grant(client, world.acme_app.jwt()).json()["access_token"]
        r = client.get(f"{API}/repositories/acme/widget", headers=bearer(access))
        assert r.status_code == 200, r.text
        assert r.json()["full_name"] == "acme/widget"

    def test_tokens_are_stored_hashed(self, client: TestClient, world: World, db: Session) -> None:
        body = grant(client, world.acme_app.jwt()).json()
        row = db.scalar(select(AppAccessToken))
        assert row is not None
        stored = " ".join(str(v) for v in vars(row).values())
        assert body["access_token"] not in stored and body["refresh_token"] not in stored
        assert len(row.access_hash) == 64


class TestGrantRefusals:
    def test_wrong_secret(self, client: TestClient, world: World) -> None:
        status, error, why = oauth_error(grant(client, world.acme_app.jwt(secret="x" * 40)))
        assert (status, error) == (400, "invalid_grant") and "signature" in why

    def test_signed_with_another_apps_secret(self, client: TestClient, world: World) -> None:
        token = world.acme_app.jwt(secret=world.other_app.secret)
        assert oauth_error(grant(client, token))[1] == "invalid_grant"

    def test_expired(self, client: TestClient, world: World) -> None:
        status, error, why = oauth_error(grant(client, world.acme_app.jwt(exp_in=-600)))
        assert (status, error) == (400, "invalid_grant") and "expired" in why

    def test_alg_none(self, client: TestClient, world: World) -> None:
        assert oauth_error(grant(client, world.acme_app.jwt(algorithm="none")))[1] == (
            "invalid_grant"
        )

    def test_unknown_client_key(self, client: TestClient, world: World) -> None:
        token = app_jwt(
            app_key=world.acme_app.key,
            client_key="ari:cloud:bitbucket::app/{nope}/x",
            secret=world.acme_app.secret,
            method="POST",
            path=TOKEN,
        )
        status, error, why = oauth_error(grant(client, token))
        assert (status, error) == (400, "invalid_grant") and "unknown clientKey" in why

    def test_uninstalled_app(self, client: TestClient, world: World, db: Session) -> None:
        uninstall(db, world.acme_app.installation_id)
        status, error, why = oauth_error(grant(client, world.acme_app.jwt()))
        assert (status, error) == (400, "invalid_grant") and "unknown clientKey" in why

    def test_missing_jwt(self, client: TestClient, world: World) -> None:
        status, error, why = oauth_error(grant(client, None))
        assert (status, error) == (400, "invalid_request") and "JWT" in why

    def test_missing_grant_type(self, client: TestClient, world: World) -> None:
        r = client.post(TOKEN, headers={"Authorization": f"JWT {world.acme_app.jwt()}"})
        assert oauth_error(r)[:2] == (400, "invalid_request")

    def test_unsupported_grant_type(self, client: TestClient, world: World) -> None:
        r = grant(client, world.acme_app.jwt(), grant_type="password")
        status, error, why = oauth_error(r)
        assert (status, error) == (400, "unsupported_grant_type") and "password" in why

    def test_refusals_issue_nothing(self, client: TestClient, world: World, db: Session) -> None:
        grant(client, world.acme_app.jwt(secret="x" * 40))
        assert db.scalar(select(AppAccessToken)) is None


class TestAccessTokens:
    def test_scopes_of_the_installation_apply(self, client: TestClient, world: World) -> None:
        access = grant(client, world.narrow_app.jwt()).json()["access_token"]
        r = client.get(f"{API}/repositories/acme/widget", headers=bearer(access))
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "repository"

    def test_another_apps_data_is_invisible(self, client: TestClient, world: World) -> None:
        access = grant(client, world.acme_app.jwt()).json()["access_token"]
        r = client.get(f"{API}/repositories/other/secret", headers=bearer(access))
        assert r.status_code == 404
        mine = grant(client, world.other_app.jwt()).json()["access_token"]
        assert client.get(f"{API}/repositories/other/secret", headers=bearer(mine)).is_success
        assert client.get(f"{API}/repositories/acme/widget", headers=bearer(mine)).status_code == (
            404
        )

    def test_unknown_token_is_401(self, client: TestClient, world: World) -> None:
        r = client.get(f"{API}/repositories/acme/widget", headers=bearer("adk_at_nope"))
        assert r.status_code == 401 and "invalid access token" in r.text

    def test_refresh_token_is_not_an_access_token(self, client: TestClient, world: World) -> None:
        refresh = grant(client, world.acme_app.jwt()).json()["refresh_token"]
        r = client.get(f"{API}/repositories/acme/widget", headers=bearer(refresh))
        assert r.status_code == 401

    def test_expired_token_is_401(self, client: TestClient, world: World, db: Session) -> None:
        access = grant(client, world.acme_app.jwt()).json()["access_token"]
        row = db.scalar(select(AppAccessToken))
        assert row is not None
        row.expires_at = utc_now() - timedelta(seconds=1)
        db.commit()
        r = client.get(f"{API}/repositories/acme/widget", headers=bearer(access))
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    def test_uninstall_revokes_at_once(self, client: TestClient, world: World, db: Session) -> None:
        body = grant(client, world.acme_app.jwt()).json()
        headers = bearer(body["access_token"])
        assert client.get(f"{API}/repositories/acme/widget", headers=headers).status_code == 200
        uninstall(db, world.acme_app.installation_id)
        r = client.get(f"{API}/repositories/acme/widget", headers=headers)
        assert r.status_code == 401
        status, error, _ = oauth_error(
            client.post(
                TOKEN, data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
            )
        )
        assert (status, error) == (400, "invalid_grant")
        assert db.scalar(select(AppAccessToken)) is None

    def test_scopes_shrunk_after_issue_apply_at_once(
        self, client: TestClient, world: World, db: Session
    ) -> None:
        access = grant(client, world.acme_app.jwt()).json()["access_token"]
        inst = db.get(Installation, world.acme_app.installation_id)
        assert inst is not None
        inst.scopes = "account"
        db.commit()
        r = client.get(f"{API}/repositories/acme/widget", headers=bearer(access))
        assert r.status_code == 403


class TestRefreshGrant:
    def refresh(self, client: TestClient, token: str) -> Any:
        return client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})

    def test_issues_a_new_pair_and_spends_the_old(self, client: TestClient, world: World) -> None:
        first = grant(client, world.acme_app.jwt()).json()
        r = self.refresh(client, first["refresh_token"])
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["access_token"] != first["access_token"]
        assert second["scopes"] == first["scopes"]
        ok = client.get(f"{API}/repositories/acme/widget", headers=bearer(second["access_token"]))
        assert ok.status_code == 200
        old = client.get(f"{API}/repositories/acme/widget", headers=bearer(first["access_token"]))
        assert old.status_code == 401
        assert oauth_error(self.refresh(client, first["refresh_token"]))[1] == "invalid_grant"

    def test_unknown_refresh_token(self, client: TestClient, world: World) -> None:
        assert oauth_error(self.refresh(client, "adk_rt_nope"))[:2] == (400, "invalid_grant")

    def test_missing_refresh_token(self, client: TestClient, world: World) -> None:
        r = client.post(TOKEN, data={"grant_type": "refresh_token"})
        assert oauth_error(r)[:2] == (400, "invalid_request")

    def test_expired_refresh_token(self, client: TestClient, world: World, db: Session) -> None:
        first = grant(client, world.acme_app.jwt()).json()
        row = db.scalar(select(AppAccessToken))
        assert row is not None
        row.refresh_expires_at = utc_now() - timedelta(seconds=1)
        db.commit()
        status, error, why = oauth_error(self.refresh(client, first["refresh_token"]))
        assert (status, error) == (400, "invalid_grant") and "expired" in why
