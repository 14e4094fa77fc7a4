"""The second consent step: users' grants to installed apps (the "Grant access" page, the list
under account settings, revoking) and the rules behind them (:mod:`appdock.connect.ui.grants`)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.account.store import AccountStore
from appdock.connect.ui.grants import GrantService, requested_user_scopes, safe_next
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.scopes import Scope
from appdock.models import AppGrant, Installation, User, Workspace
from tests.connect.conftest import csrf_from, login
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import descriptor, make_installation

GRANT = "/site/connect/grant"
AUTHS = "/account/settings/app-authorizations"


def grants(db: Session) -> int:
    db.expire_all()
    n = db.scalar(select(func.count()).select_from(AppGrant)) or 0
    db.rollback()
    return n


def personal(db: Session, user: User) -> Workspace:
    ws = AccountStore(db).personal_workspace(user.id)
    assert ws is not None
    return ws


@pytest.fixture
def alice(db: Session) -> User:
    return make_user(db, "alice")


@pytest.fixture
def bob(db: Session) -> User:
    return make_user(db, "bob")


@pytest.fixture
def team_app(db: Session, alice: User, bob: User) -> Installation:
    acme = make_team(db, "acme", alice, bob)
    inst, _ = make_installation(
        db, acme, alice, key="com.example.team", scopes="account repository"
    )
    return inst


@pytest.fixture
def alices_app(db: Session, alice: User) -> Installation:
    inst, _ = make_installation(
        db, personal(db, alice), alice, key="com.example.mine", scopes="account pullrequest"
    )
    return inst


class TestRequestedScopes:
    def test_without_oauth_consumer_the_installation_scopes_are_asked(
        self, db: Session, team_app: Installation
    ) -> None:
        assert requested_user_scopes(team_app) == {Scope.ACCOUNT, Scope.REPOSITORY}

    def test_oauth_consumer_scopes_are_asked_within_the_installation(
        self, db: Session, alice: User
    ) -> None:
        raw = descriptor(
            "com.example.consumer",
            modules={"oauthConsumer": {"clientId": "abc", "scopes": ["account", "pullrequest"]}},
        )
        inst, _ = make_installation(
            db,
            personal(db, alice),
            alice,
            key="com.example.consumer",
            scopes="account repository",
            raw=raw,
        )
        # pullrequest is beyond the installation: only what it implies and the install has stays
        assert requested_user_scopes(inst) == {Scope.ACCOUNT, Scope.REPOSITORY}

    def test_implied_scopes_are_not_listed_twice(self, db: Session, alice: User) -> None:
        inst, _ = make_installation(
            db, personal(db, alice), alice, key="com.example.w", scopes="pullrequest:write"
        )
        assert requested_user_scopes(inst) == {Scope.PULLREQUEST_WRITE}


class TestGrantService:
    def test_grant_then_request_acts_within_the_grant(
        self, db: Session, alice: User, team_app: Installation
    ) -> None:
        svc = GrantService(db, SECRET)
        with pytest.raises(Forbidden) as refused:
            svc.request_scopes(
                app_key=team_app.app_key, client_key=team_app.client_key, user_id=alice.id
            )
        assert refused.value.data["consent_required"] is True
        assert str(refused.value.data["grant_url"]).startswith(GRANT + "?client_key=")
        svc.grant(team_app.client_key, alice.id)
        access = svc.request_scopes(
            app_key=team_app.app_key, client_key=team_app.client_key, user_id=alice.id
        )
        assert access.effective == {Scope.ACCOUNT, Scope.REPOSITORY}

    def test_another_apps_installation_is_refused(
        self, db: Session, alice: User, team_app: Installation
    ) -> None:
        svc = GrantService(db, SECRET)
        svc.grant(team_app.client_key, alice.id)
        with pytest.raises(Forbidden, match=r"belongs to app 'com\.example\.team'"):
            svc.request_scopes(app_key="com.evil", client_key=team_app.client_key, user_id=alice.id)

    def test_missing_client_key_names_the_header(self, db: Session, alice: User) -> None:
        with pytest.raises(BadRequest) as exc:
            GrantService(db, SECRET).request_scopes(app_key="a", client_key="", user_id=alice.id)
        assert exc.value.field == "x-appdock-client-key"

    def test_someone_elses_personal_installation_is_not_found(
        self, db: Session, bob: User, alices_app: Installation
    ) -> None:
        with pytest.raises(NotFound):
            GrantService(db, SECRET).grant(alices_app.client_key, bob.id)
        assert grants(db) == 0

    def test_private_team_installation_is_not_found_for_outsiders(
        self, db: Session, team_app: Installation
    ) -> None:
        carol = make_user(db, "carol")
        with pytest.raises(NotFound):
            GrantService(db, SECRET).access(team_app.client_key, carol.id)

    def test_effective_scopes_shrink_with_the_installation(
        self, db: Session, alice: User, team_app: Installation
    ) -> None:
        svc = GrantService(db, SECRET)
        svc.grant(team_app.client_key, alice.id)
        team_app.scopes = "account"
        db.commit()
        access = svc.request_scopes(
            app_key=team_app.app_key, client_key=team_app.client_key, user_id=alice.id
        )
        assert access.effective == {Scope.ACCOUNT}

    def test_more_scopes_ask_again_while_the_old_grant_keeps_working(
        self, db: Session, alice: User, team_app: Installation
    ) -> None:
        svc = GrantService(db, SECRET)
        svc.grant(team_app.client_key, alice.id)
        team_app.scopes = "account repository:write"
        db.commit()
        access = svc.access(team_app.client_key, alice.id)
        assert access.needs_consent and access.added == {Scope.REPOSITORY_WRITE}
        assert access.effective == {Scope.ACCOUNT, Scope.REPOSITORY}
        assert svc.grant(team_app.client_key, alice.id).effective == {
            Scope.ACCOUNT,
            Scope.REPOSITORY,
            Scope.REPOSITORY_WRITE,
        }
        assert grants(db) == 1

    def test_uninstall_removes_the_grants(
        self, db: Session, alice: User, team_app: Installation
    ) -> None:
        GrantService(db, SECRET).grant(team_app.client_key, alice.id)
        db.commit()
        db.delete(db.get(Installation, team_app.id))
        db.commit()
        assert grants(db) == 0

    def test_consent_config_tells_the_page_who_must_still_grant(
        self, db: Session, alice: User, bob: User, team_app: Installation
    ) -> None:
        svc = GrantService(db, SECRET)
        svc.grant(team_app.client_key, alice.id)
        mine = svc.consent_config(alice.id, [team_app.id])[team_app.app_key]
        theirs = svc.consent_config(bob.id, [team_app.id])[team_app.app_key]
        anonymous = svc.consent_config(None, [team_app.id])[team_app.app_key]
        assert mine["clientKey"] == team_app.client_key and mine["needsConsent"] is False
        assert theirs["needsConsent"] is True and theirs["grantUrl"].startswith(GRANT)
        assert anonymous == {"clientKey": team_app.client_key, "appName": team_app.name}

    def test_consent_config_asks_eagerly_for_oauth_consumers_and_again_for_more(
        self, db: Session, alice: User
    ) -> None:
        raw = descriptor("com.example.eager", modules={"oauthConsumer": {"clientId": "c"}})
        inst, _ = make_installation(
            db, personal(db, alice), alice, key="com.example.eager", scopes="account", raw=raw
        )
        svc = GrantService(db, SECRET)
        before = svc.consent_config(alice.id, [inst.id])["com.example.eager"]
        assert before["eager"] is True and before["needsConsent"] is True
        svc.grant(inst.client_key, alice.id)
        assert svc.consent_config(alice.id, [inst.id])["com.example.eager"]["needsConsent"] is False
        inst.scopes = "account repository"
        db.commit()
        assert svc.consent_config(alice.id, [inst.id])["com.example.eager"]["needsConsent"] is True


class TestSafeNext:
    @pytest.mark.parametrize(
        "value", ["//evil.example/x", "https://evil.example/", "/\\evil", "", "x", "/a\nb"]
    )
    def test_anything_but_a_local_path_goes_to_the_list(self, value: str) -> None:
        assert safe_next(value) == AUTHS

    def test_a_local_path_is_kept(self) -> None:
        assert safe_next("/acme/widget?x=1#y") == "/acme/widget?x=1#y"


# -- the pages -------------------------------------------------------------------------------


def browser(client: TestClient, username: str) -> TestClient:
    client.headers["accept"] = "text/html,application/xhtml+xml"
    login(client, username)
    return client


def grant_form(client: TestClient, client_key: str, next_url: str = "/acme") -> Any:
    return client.get(GRANT, params={"client_key": client_key, "next": next_url})


class TestGrantPage:
    def test_lists_scopes_in_plain_words_with_a_csrf_form(
        self, client: TestClient, alice: User, team_app: Installation
    ) -> None:
        page = grant_form(browser(client, "alice"), team_app.client_key)
        assert page.status_code == 200
        assert "Let Example app act for you?" in page.text
        assert "Read your account information" in page.text
        assert "Read your repositories" in page.text
        assert 'name="csrf_token"' in page.text

    def test_granting_records_it_and_returns_to_the_page(
        self, client: TestClient, db: Session, alice: User, team_app: Installation
    ) -> None:
        page = grant_form(browser(client, "alice"), team_app.client_key, "/acme/widget")
        r = client.post(
            GRANT,
            data={
                "client_key": team_app.client_key,
                "next": "/acme/widget",
                "action": "grant",
                "csrf_token": csrf_from(page.text),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/acme/widget"
        assert grants(db) == 1

    def test_missing_csrf_token_is_refused(
        self, client: TestClient, db: Session, alice: User, team_app: Installation
    ) -> None:
        grant_form(browser(client, "alice"), team_app.client_key)
        r = client.post(
            GRANT,
            data={"client_key": team_app.client_key, "action": "grant"},
            follow_redirects=False,
        )
        assert r.status_code == 403
        assert grants(db) == 0

    def test_another_users_personal_installation_cannot_be_granted(
        self, client: TestClient, db: Session, bob: User, alices_app: Installation
    ) -> None:
        browser(client, "bob")
        assert grant_form(client, alices_app.client_key).status_code == 404
        token = csrf_from(client.get(AUTHS).text)
        r = client.post(
            GRANT,
            data={"client_key": alices_app.client_key, "action": "grant", "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 404
        assert grants(db) == 0

    def test_not_now_records_nothing(
        self, client: TestClient, db: Session, alice: User, team_app: Installation
    ) -> None:
        page = grant_form(browser(client, "alice"), team_app.client_key)
        r = client.post(
            GRANT,
            data={
                "client_key": team_app.client_key,
                "next": "//evil.example/",
                "action": "deny",
                "csrf_token": csrf_from(page.text),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == AUTHS
        assert grants(db) == 0

    def test_anonymous_viewers_are_sent_to_sign_in(
        self, client: TestClient, team_app: Installation
    ) -> None:
        r = client.get(GRANT, params={"client_key": team_app.client_key}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


class TestAuthorizationsPage:
    def test_lists_and_revokes_the_users_grants(
        self, client: TestClient, db: Session, alice: User, team_app: Installation
    ) -> None:
        GrantService(db, SECRET).grant(team_app.client_key, alice.id)
        db.commit()
        page = browser(client, "alice").get(AUTHS)
        assert "Example app" in page.text and "App authorizations" in page.text
        grant_id = db.scalar(select(AppGrant.id))
        db.rollback()
        r = client.post(
            f"{AUTHS}/{grant_id}/revoke",
            data={"csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert grants(db) == 0
        assert "You have not let any app act for you" in client.get(AUTHS).text

    def test_revoking_another_users_grant_is_not_found(
        self, client: TestClient, db: Session, alice: User, bob: User, team_app: Installation
    ) -> None:
        GrantService(db, SECRET).grant(team_app.client_key, alice.id)
        db.commit()
        grant_id = db.scalar(select(AppGrant.id))
        db.rollback()
        browser(client, "bob")
        token = csrf_from(client.get(AUTHS).text)
        r = client.post(f"{AUTHS}/{grant_id}/revoke", data={"csrf_token": token})
        assert r.status_code == 404
        assert grants(db) == 1

    def test_revoke_without_csrf_is_refused(
        self, client: TestClient, db: Session, alice: User, team_app: Installation
    ) -> None:
        GrantService(db, SECRET).grant(team_app.client_key, alice.id)
        db.commit()
        grant_id = db.scalar(select(AppGrant.id))
        db.rollback()
        browser(client, "alice")
        assert client.post(f"{AUTHS}/{grant_id}/revoke").status_code == 403
        assert grants(db) == 1
