"""REST of the app platform against a real app on loopback: the development registration API
(install, reinstall, uninstall, bad input), app JWTs on the API, and /2.0/addon updates."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.connect import flows, lifecycle
from appdock.core import crypto
from appdock.models import AppClientKey, Installation, User, Workspace
from tests.connect.fakeapp import FakeApp
from tests.factories.account import SECRET, basic, make_app_password, make_team, make_user
from tests.factories.connect import app_jwt, jwt_header, make_installation

API = "/api/2.0"
ALL = "account account:write repository"


@pytest.fixture
def team(db: Session) -> tuple[User, Workspace, dict[str, str]]:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    acme.dev_mode = True
    db.commit()
    return alice, acme, basic("alice", make_app_password(db, alice, ALL))


def install(client: TestClient, app: FakeApp, auth: dict[str, str], account: str = "acme") -> Any:
    return client.post(
        f"{API}/account/{account}/addons", json={"url": app.descriptor_url}, headers=auth
    )


def count(db: Session, model: type) -> int:
    """Rows of a table as the app committed them; ends the read so the app can write (SQLite)."""
    db.expire_all()
    n = db.scalar(select(func.count()).select_from(model)) or 0
    db.rollback()
    return n


class TestInstallThroughTheDevelopmentApi:
    def test_installs_and_sends_every_field_real_apps_read(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        alice, acme, auth = team
        r = install(client, fake_app, auth)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["key"] == fake_app.key
        assert body["name"] == fake_app.descriptor["name"]
        assert body["clientKey"] == f"ari:cloud:bitbucket::app/{acme.uuid}/{fake_app.key}"
        assert body["principal"]["type"] == "team"
        assert body["principal"]["username"] == "acme"
        assert body["installed_by"]["username"] == "alice"
        assert body["scopes"] == ["account", "repository"]
        [call] = fake_app.requests_to("/installed")
        assert "Authorization" not in call.headers  # first install: nothing to sign with
        p = call.json()
        assert p["key"] == fake_app.key
        assert p["clientKey"] == body["clientKey"]
        assert p["productType"] == "bitbucket"
        assert p["eventType"] == "installed"
        assert p["baseUrl"] == "http://testserver"
        assert p["baseApiUrl"] == "http://testserver/api"
        assert p["publicKey"]
        assert len(p["sharedSecret"]) >= 32
        principal = p["principal"]
        assert (principal["type"], principal["uuid"], principal["username"]) == (
            "team",
            acme.uuid,
            "acme",
        )
        assert principal["display_name"] == "Acme"
        assert principal["links"]["avatar"]["href"].startswith("http://testserver/")
        assert p["user"]["uuid"] == alice.uuid
        assert p["user"]["type"] == "user"
        assert p["actor"]["uuid"] == alice.uuid

    def test_shared_secret_is_encrypted_at_rest(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        install(client, fake_app, team[2])
        sent = fake_app.requests_to("/installed")[0].json()["sharedSecret"]
        row = db.scalar(select(Installation))
        assert row is not None
        assert sent not in row.shared_secret
        assert crypto.decrypt(SECRET, row.shared_secret) == sent

    def test_personal_account_principal_is_the_user(
        self, client: TestClient, db: Session, fake_app: FakeApp
    ) -> None:
        bob = make_user(db, "bob")
        personal = db.scalar(select(Workspace).where(Workspace.slug == "bob"))
        assert personal is not None
        personal.dev_mode = True
        db.commit()
        r = install(client, fake_app, basic("bob", make_app_password(db, bob, ALL)), "bob")
        assert r.status_code == 201, r.text
        p = fake_app.requests_to("/installed")[0].json()
        assert p["principal"]["type"] == "user"
        assert p["principal"]["uuid"] == bob.uuid

    def test_reinstall_is_signed_with_the_previous_secret_and_keeps_the_client_key(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        auth = team[2]
        first = install(client, fake_app, auth).json()
        first_secret = fake_app.requests_to("/installed")[0].json()["sharedSecret"]
        second = install(client, fake_app, auth)
        assert second.status_code == 201, second.text
        assert second.json()["clientKey"] == first["clientKey"]
        assert second.json()["id"] == first["id"]
        call = fake_app.requests_to("/installed")[1]
        assert call.jwt_ok is True, call.jwt_error  # the app checked it with the stored secret
        ok, claims, _ = fake_app.verify("POST", call.path, call.headers, secret=first_secret)
        assert ok
        assert claims is not None
        assert claims["iss"] == first["clientKey"]
        assert call.json()["sharedSecret"] != first_secret
        assert count(db, Installation) == 1

    def test_first_install_after_uninstall_is_signed_with_the_last_secret(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        auth = team[2]
        first = install(client, fake_app, auth).json()
        secret = fake_app.requests_to("/installed")[0].json()["sharedSecret"]
        assert (
            client.delete(f"{API}/account/acme/addons/{first['id']}", headers=auth).status_code
            == 204
        )
        again = install(client, fake_app, auth)
        assert again.status_code == 201, again.text
        assert again.json()["clientKey"] == first["clientKey"]
        call = fake_app.requests_to("/installed")[1]
        ok, _, err = fake_app.verify("POST", call.path, call.headers, secret=secret)
        assert ok, err

    def test_app_under_a_base_path_gets_qsh_relative_to_it(
        self, client: TestClient, db: Session, team: Any
    ) -> None:
        app = FakeApp("com.example.based", base_path="/bb")
        try:
            auth = team[2]
            assert install(client, app, auth).status_code == 201
            assert install(client, app, auth).status_code == 201
            call = app.requests_to("/installed")[1]
            assert call.path == "/bb/installed"
            assert call.jwt_ok, call.jwt_error
        finally:
            app.close()


class TestLifecycleVariants:
    def test_without_an_installed_url_the_install_commits_directly(
        self, client: TestClient, db: Session, team: Any
    ) -> None:
        app = FakeApp("com.example.quiet", lifecycle={})
        try:
            r = install(client, app, team[2])
            assert r.status_code == 201, r.text
            assert app.requests_to("/installed") == []
            assert count(db, Installation) == 1
        finally:
            app.close()

    def test_authentication_none_sends_no_jwt_even_on_reinstall(
        self, client: TestClient, db: Session, team: Any
    ) -> None:
        app = FakeApp("com.example.open", authentication={"type": "none"})
        try:
            assert install(client, app, team[2]).status_code == 201
            app.tenants.clear()  # the app keeps no tenant state, so it accepts unsigned calls
            assert install(client, app, team[2]).status_code == 201
            item = client.get(f"{API}/account/acme/addons", headers=team[2]).json()["values"][0]
            client.delete(f"{API}/account/acme/addons/{item['id']}", headers=team[2])
            calls = app.requests_to("/installed") + app.requests_to("/uninstalled")
            assert len(calls) == 3
            assert all("Authorization" not in c.headers for c in calls)
        finally:
            app.close()


class TestInstallRefusals:
    def test_development_mode_off_is_403_and_nothing_is_fetched(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        _, acme, auth = team
        acme.dev_mode = False
        db.commit()
        r = install(client, fake_app, auth)
        assert r.status_code == 403
        assert "development mode is off for account 'acme'" in r.json()["error"]["message"]
        assert fake_app.requests == []

    def test_a_member_who_is_not_admin_is_403(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        _, acme, _ = team
        bob = make_user(db, "bob")
        from appdock.account.service import AccountService

        AccountService(db, SECRET).add_member(acme, bob, "member")
        db.commit()
        r = install(client, fake_app, basic("bob", make_app_password(db, bob, ALL)))
        assert r.status_code == 403
        assert "not an administrator" in r.json()["error"]["message"]

    def test_someone_elses_private_account_is_404(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        carol = make_user(db, "carol")
        r = install(client, fake_app, basic("carol", make_app_password(db, carol, ALL)))
        assert r.status_code == 404

    def test_app_password_without_account_write_is_403(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        alice = team[0]
        r = install(client, fake_app, basic("alice", make_app_password(db, alice, "account")))
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "account:write"

    def test_missing_url_names_the_field(self, client: TestClient, team: Any) -> None:
        r = client.post(f"{API}/account/acme/addons", json={}, headers=team[2])
        assert r.status_code == 400
        assert "url" in r.json()["error"]["fields"]


def assert_nothing_stored(db: Session) -> None:
    assert count(db, Installation) == 0
    assert count(db, AppClientKey) == 0


class TestBadDescriptors:
    def error(self, r: Any) -> str:
        assert r.status_code == 400, r.text
        return str(r.json()["error"]["message"])

    def test_descriptor_url_that_404s(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.descriptor_status = 404
        fake_app.behaviour.descriptor_body = b"Not Found"
        assert "answered HTTP 404: Not Found" in self.error(install(client, fake_app, team[2]))
        assert_nothing_stored(db)

    def test_descriptor_served_as_html(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.descriptor_type = "text/html"
        fake_app.behaviour.descriptor_body = b"<html>login</html>"
        assert "Content-Type text/html, not JSON" in self.error(install(client, fake_app, team[2]))

    def test_malformed_json(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.descriptor_body = b'{"key": "x",'
        assert "is not valid JSON" in self.error(install(client, fake_app, team[2]))

    def test_huge_descriptor(
        self,
        client: TestClient,
        db: Session,
        team: Any,
        fake_app: FakeApp,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(flows, "DESCRIPTOR_MAX_BYTES", 2000)
        fake_app.descriptor["description"] = "x" * 5000
        assert "more than 2000 bytes" in self.error(install(client, fake_app, team[2]))

    def test_slow_descriptor(
        self,
        client: TestClient,
        db: Session,
        team: Any,
        fake_app: FakeApp,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(flows, "DESCRIPTOR_TIMEOUT", 0.3)
        fake_app.behaviour.descriptor_delay = 1.0
        assert "did not answer within 0.3 s" in self.error(install(client, fake_app, team[2]))

    def test_redirect_to_a_private_address(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.descriptor_redirect = "http://10.0.0.1/atlassian-connect.json"
        message = self.error(install(client, fake_app, team[2]))
        assert message == (
            "descriptor URL http://10.0.0.1/atlassian-connect.json resolves to a private "
            "address 10.0.0.1; the operator has not allowed private app URLs"
        )

    def test_loopback_refused_when_the_operator_allows_no_private_urls(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp, settings: Settings
    ) -> None:
        settings.allow_private_app_urls = "off"
        message = self.error(install(client, fake_app, team[2]))
        assert "resolves to a loopback address 127.0.0.1" in message
        assert fake_app.requests == []

    def test_unknown_scope(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.descriptor["scopes"] = ["account", "repository:everything"]
        message = self.error(install(client, fake_app, team[2]))
        assert 'scopes[1]: unknown scope "repository:everything"' in message
        assert fake_app.requests_to("/installed") == []
        assert_nothing_stored(db)

    def test_unknown_module_location(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.descriptor["modules"] = {
            "webPanels": [
                {"key": "p", "name": {"value": "P"}, "url": "/p", "location": "org.bitbucket.foo"}
            ]
        }
        assert 'modules.webPanels[0].location: unknown location "org.bitbucket.foo"' in self.error(
            install(client, fake_app, team[2])
        )

    def test_missing_fields(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        del fake_app.descriptor["key"]
        del fake_app.descriptor["authentication"]
        message = self.error(install(client, fake_app, team[2]))
        assert "key: is required" in message
        assert "authentication: is required" in message

    def test_http_base_url_where_https_is_required(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp, settings: Settings
    ) -> None:
        settings.allow_http_app_urls = False
        message = self.error(install(client, fake_app, team[2]))
        assert f'baseUrl: must use https (got "{fake_app.base_url}")' in message
        assert_nothing_stored(db)


class TestFailingInstalledCallback:
    def test_500_fails_with_the_apps_status_and_answer_and_stores_nothing(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.installed_status = 500
        fake_app.behaviour.installed_body = b"database exploded"
        r = install(client, fake_app, team[2])
        assert r.status_code == 502
        error = r.json()["error"]
        assert "answered HTTP 500: database exploded" in error["message"]
        assert error["data"] == {"status": 500, "response": "database exploded"}
        assert_nothing_stored(db)
        assert client.get(f"{API}/account/acme/addons", headers=team[2]).json()["size"] == 0

    def test_timeout(
        self,
        client: TestClient,
        db: Session,
        team: Any,
        fake_app: FakeApp,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(lifecycle, "CALLBACK_TIMEOUT", 0.3)
        fake_app.behaviour.installed_delay = 1.0
        r = install(client, fake_app, team[2])
        assert r.status_code == 502
        assert "did not answer within 0.3 s" in r.json()["error"]["message"]
        assert_nothing_stored(db)

    def test_closed_connection(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.installed_close = True
        r = install(client, fake_app, team[2])
        assert r.status_code == 502
        assert "the connection failed or was closed" in r.json()["error"]["message"]
        assert_nothing_stored(db)

    def test_failed_reinstall_keeps_the_installation_and_its_secret(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        first = install(client, fake_app, team[2]).json()
        secret = fake_app.requests_to("/installed")[0].json()["sharedSecret"]
        fake_app.behaviour.installed_status = 503
        assert install(client, fake_app, team[2]).status_code == 502
        db.expire_all()
        row = db.get(Installation, first["id"])
        assert row is not None
        assert crypto.decrypt(SECRET, row.shared_secret) == secret
        record = db.scalar(select(AppClientKey))
        assert record is not None
        assert record.attempt_secret is None
        db.rollback()
        token = app_jwt(app_key=fake_app.key, client_key=first["clientKey"], secret=secret)
        assert client.get(f"{API}/workspaces", headers=jwt_header(token)).status_code == 200


class TestListAndUninstall:
    def test_list_is_a_paged_bitbucket_collection(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        install(client, fake_app, team[2])
        page = client.get(f"{API}/account/acme/addons", headers=team[2]).json()
        assert page["size"] == 1
        assert page["page"] == 1
        assert page["pagelen"] == 10
        [item] = page["values"]
        assert item["key"] == fake_app.key
        assert isinstance(item["id"], int)
        assert item["clientKey"].startswith("ari:cloud:bitbucket::app/")
        assert item["principal"]["username"] == "acme"
        assert item["created_on"]
        assert (
            item["links"]["self"]["href"]
            == f"http://testserver/api/2.0/account/acme/addons/{item['id']}"
        )

    @pytest.mark.parametrize("by", ["id", "key"])
    def test_uninstall_signs_with_the_current_secret_and_removes(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp, by: str
    ) -> None:
        item = install(client, fake_app, team[2]).json()
        ident = str(item["id"]) if by == "id" else item["key"]
        r = client.delete(f"{API}/account/acme/addons/{ident}", headers=team[2])
        assert r.status_code == 204
        [call] = fake_app.requests_to("/uninstalled")
        assert call.jwt_ok, call.jwt_error
        assert call.json()["eventType"] == "uninstalled"
        assert "sharedSecret" not in call.json()
        assert count(db, Installation) == 0
        assert client.get(f"{API}/account/acme/addons", headers=team[2]).json()["values"] == []

    def test_uninstall_completes_whatever_the_app_answers(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        item = install(client, fake_app, team[2]).json()
        fake_app.behaviour.uninstalled_status = 500
        assert (
            client.delete(f"{API}/account/acme/addons/{item['id']}", headers=team[2]).status_code
            == 204
        )
        fake_app.close()
        assert count(db, Installation) == 0

    def test_its_tokens_are_refused_after_uninstall(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        item = install(client, fake_app, team[2]).json()
        secret = fake_app.requests_to("/installed")[0].json()["sharedSecret"]
        token = app_jwt(app_key=fake_app.key, client_key=item["clientKey"], secret=secret)
        assert client.get(f"{API}/workspaces", headers=jwt_header(token)).status_code == 200
        client.delete(f"{API}/account/acme/addons/{item['id']}", headers=team[2])
        r = client.get(f"{API}/workspaces", headers=jwt_header(token))
        assert r.status_code == 401
        assert "unknown clientKey" in r.json()["error"]["message"]

    def test_unknown_installation_is_404(self, client: TestClient, team: Any) -> None:
        r = client.delete(f"{API}/account/acme/addons/nope", headers=team[2])
        assert r.status_code == 404


@pytest.fixture
def installed(db: Session) -> tuple[Installation, str, Workspace]:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    inst, secret = make_installation(
        db, acme, alice, key="com.example.app", scopes="account repository"
    )
    return inst, secret, acme


def token_for(inst: Installation, secret: str, **kw: Any) -> dict[str, str]:
    return jwt_header(
        app_jwt(app_key=inst.app_key, client_key=inst.client_key, secret=secret, **kw)
    )


class TestAppJwtOnTheApi:
    def test_ace_style_qsh_over_2_0_path(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        r = client.get(f"{API}/workspaces", headers=token_for(inst, secret))
        assert r.status_code == 200, r.text
        assert [w["slug"] for w in r.json()["values"]] == ["acme"]

    def test_qsh_over_api_path_is_accepted_too(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        headers = token_for(inst, secret, path="/api/2.0/workspaces")
        assert client.get(f"{API}/workspaces", headers=headers).status_code == 200

    def test_query_and_trailing_slash_follow_the_canonical_rules(
        self, client: TestClient, installed: Any
    ) -> None:
        inst, secret, _ = installed
        headers = token_for(inst, secret, path="/2.0/workspaces?pagelen=5&page=1")
        assert client.get(f"{API}/workspaces/?page=1&pagelen=5", headers=headers).status_code == 200

    def test_qsh_mismatch_names_the_canonical_request(
        self, client: TestClient, installed: Any
    ) -> None:
        inst, secret, _ = installed
        r = client.get(f"{API}/workspaces", headers=token_for(inst, secret, path="/2.0/user"))
        assert r.status_code == 401
        message = r.json()["error"]["message"]
        assert "qsh mismatch" in message
        assert "'GET&/2.0/workspaces&'" in message
        assert "'GET&/api/2.0/workspaces&'" in message
        assert r.json()["error"]["data"]["check"] == "qsh"

    def test_missing_qsh(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        token = app_jwt(app_key=inst.app_key, client_key=inst.client_key, secret=secret, qsh="")
        r = client.get(f"{API}/workspaces", headers=jwt_header(token))
        assert r.status_code == 401
        assert "missing 'qsh'" in r.json()["error"]["message"]

    def test_unknown_client_key(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        token = app_jwt(app_key=inst.app_key, client_key="connection:999", secret=secret)
        r = client.get(f"{API}/workspaces", headers=jwt_header(token))
        assert r.status_code == 401
        assert "unknown clientKey 'connection:999'" in r.json()["error"]["message"]

    def test_user_id_in_sub_is_an_unknown_client_key(
        self, client: TestClient, installed: Any
    ) -> None:
        inst, secret, _ = installed
        token = app_jwt(app_key=inst.app_key, client_key="{some-user-uuid}", secret=secret)
        message = client.get(f"{API}/workspaces", headers=jwt_header(token)).json()["error"][
            "message"
        ]
        assert "'sub' must be the clientKey" in message

    def test_wrong_iss(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        token = app_jwt(app_key=inst.client_key, client_key=inst.client_key, secret=secret)
        r = client.get(f"{API}/workspaces", headers=jwt_header(token))
        assert r.status_code == 401
        assert "'iss' must be the app key" in r.json()["error"]["message"]

    def test_bad_signature(self, client: TestClient, installed: Any) -> None:
        inst, _, _ = installed
        r = client.get(f"{API}/workspaces", headers=token_for(inst, "x" * 64))
        assert r.status_code == 401
        assert "bad signature" in r.json()["error"]["message"]

    def test_expired_beyond_leeway(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        assert (
            client.get(f"{API}/workspaces", headers=token_for(inst, secret, exp_in=-30)).status_code
            == 200
        )
        r = client.get(f"{API}/workspaces", headers=token_for(inst, secret, exp_in=-90))
        assert r.status_code == 401
        assert "expired" in r.json()["error"]["message"]

    @pytest.mark.parametrize("algorithm", ["none", "HS512"])
    def test_other_algorithms(self, client: TestClient, installed: Any, algorithm: str) -> None:
        inst, secret, _ = installed
        token = app_jwt(
            app_key=inst.app_key, client_key=inst.client_key, secret=secret * 2, algorithm=algorithm
        )
        r = client.get(f"{API}/workspaces", headers=jwt_header(token))
        assert r.status_code == 401
        assert "is not accepted" in r.json()["error"]["message"]

    def test_jwt_sent_as_bearer_is_refused(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        token = app_jwt(app_key=inst.app_key, client_key=inst.client_key, secret=secret)
        r = client.get(f"{API}/workspaces", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert "Bearer" in r.json()["error"]["message"]

    def test_scopes_are_the_granted_ones(self, client: TestClient, installed: Any) -> None:
        inst, secret, _ = installed
        r = client.get(
            f"{API}/workspaces/acme/projects",
            headers=token_for(inst, secret, path="/2.0/workspaces/acme/projects"),
        )
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "project"

    def test_personal_install_acts_as_its_user(self, client: TestClient, db: Session) -> None:
        bob = make_user(db, "bob")
        personal = db.scalar(select(Workspace).where(Workspace.slug == "bob"))
        assert personal is not None
        inst, secret = make_installation(db, personal, bob)
        r = client.get(f"{API}/user", headers=token_for(inst, secret, path="/2.0/user"))
        assert r.status_code == 200
        assert r.json()["uuid"] == bob.uuid

    def test_team_install_user_is_its_principal_team(
        self, client: TestClient, installed: Any
    ) -> None:
        inst, secret, _ = installed
        r = client.get(f"{API}/user", headers=token_for(inst, secret, path="/2.0/user"))
        assert r.status_code == 200
        assert (r.json()["type"], r.json()["username"]) == ("team", "acme")


class TestAddonUpdates:
    def test_only_an_app_jwt_may_call_it(self, client: TestClient, team: Any) -> None:
        r = client.put(f"{API}/addon", json={}, headers=team[2])
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "Authentication must use app JWT"

    def installed_app(self, client: TestClient, team: Any, app: FakeApp) -> tuple[dict, str]:
        item = install(client, app, team[2]).json()
        return item, app.requests_to("/installed")[0].json()["sharedSecret"]

    def put(self, client: TestClient, app: FakeApp, item: dict, secret: str, body: dict) -> Any:
        token = app_jwt(
            app_key=app.key,
            client_key=item["clientKey"],
            secret=secret,
            method="PUT",
            path="/2.0/addon",
        )
        return client.put(f"{API}/addon", json=body, headers=jwt_header(token))

    def test_refetch_with_fewer_scopes_applies_at_once(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        fake_app.descriptor["scopes"] = ["account"]
        fake_app.descriptor["name"] = "Renamed"
        assert self.put(client, fake_app, item, secret, {}).status_code == 204
        db.expire_all()
        row = db.get(Installation, item["id"])
        assert row is not None
        assert row.scopes == "account"
        assert row.pending_scopes is None
        assert row.name == "Renamed"

    def test_growing_scopes_wait_for_an_admin(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        grown = {**fake_app.descriptor, "scopes": ["account", "repository", "pullrequest:write"]}
        assert self.put(client, fake_app, item, secret, {"descriptor": grown}).status_code == 204
        db.expire_all()
        row = db.get(Installation, item["id"])
        assert row is not None
        assert row.scopes == "account repository"
        assert row.pending_scopes == "account pullrequest:write repository"
        db.rollback()
        listed = client.get(f"{API}/account/acme/addons", headers=team[2]).json()["values"][0]
        assert listed["scopes"] == ["account", "repository"]
        assert listed["pending_scopes"] == ["account", "pullrequest:write", "repository"]

    def test_descriptor_url_moves_the_installation(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        moved = FakeApp(fake_app.key, name="Moved app")
        try:
            r = self.put(client, fake_app, item, secret, {"descriptor_url": moved.descriptor_url})
            assert r.status_code == 204, r.text
            db.expire_all()
            row = db.get(Installation, item["id"])
            assert row is not None
            assert (row.descriptor_url, row.name) == (moved.descriptor_url, "Moved app")
            db.rollback()
        finally:
            moved.close()

    def test_a_listed_app_may_only_move_to_its_marketplace_url(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        from appdock.connect.descriptor import parse_descriptor
        from appdock.connect.marketplace import MarketplaceService

        item, secret = self.installed_app(client, team, fake_app)
        MarketplaceService(db).add(
            parse_descriptor(fake_app.descriptor), fake_app.descriptor, fake_app.descriptor_url
        )
        acme = team[1]
        acme.dev_mode = False
        db.commit()
        r = self.put(
            client, fake_app, item, secret, {"descriptor_url": "https://elsewhere.example/d"}
        )
        assert r.status_code == 400
        assert "is not the Marketplace descriptor URL" in r.json()["error"]["message"]

    def test_scopes_may_not_shrink_to_none(
        self, client: TestClient, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        r = self.put(
            client, fake_app, item, secret, {"descriptor": {**fake_app.descriptor, "scopes": []}}
        )
        assert r.status_code == 400
        assert "scopes: may not shrink to none" in r.json()["error"]["message"]

    def test_a_different_key_is_refused(
        self, client: TestClient, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        r = self.put(
            client,
            fake_app,
            item,
            secret,
            {"descriptor": {**fake_app.descriptor, "key": "other.app"}},
        )
        assert r.status_code == 400
        assert "key: is 'other.app'" in r.json()["error"]["message"]

    def test_invalid_inline_descriptor_names_the_problem(
        self, client: TestClient, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        r = self.put(
            client,
            fake_app,
            item,
            secret,
            {"descriptor": {**fake_app.descriptor, "scopes": ["wat"]}},
        )
        assert r.status_code == 400
        assert 'unknown scope "wat"' in r.json()["error"]["message"]

    def test_delete_uninstalls_and_tells_the_app(
        self, client: TestClient, db: Session, team: Any, fake_app: FakeApp
    ) -> None:
        item, secret = self.installed_app(client, team, fake_app)
        token = app_jwt(
            app_key=fake_app.key,
            client_key=item["clientKey"],
            secret=secret,
            method="DELETE",
            path="/2.0/addon",
        )
        assert client.delete(f"{API}/addon", headers=jwt_header(token)).status_code == 204
        assert count(db, Installation) == 0
        [call] = fake_app.requests_to("/uninstalled")
        assert call.jwt_ok, call.jwt_error
