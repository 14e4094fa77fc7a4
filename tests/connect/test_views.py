"""The pages: consent dialog, grant and cancel, installed apps, uninstall, upgrades, Marketplace."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.connect.descriptor import parse_descriptor
from appdock.connect.marketplace import MarketplaceService
from appdock.models import AppClientKey, Installation, User, Workspace
from tests.connect.conftest import csrf_from, login
from tests.connect.fakeapp import FakeApp
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import make_installation


@pytest.fixture
def alice(db: Session, client: TestClient) -> User:
    user = make_user(db, "alice")
    acme = make_team(db, "acme", user, name="Acme")
    acme.dev_mode = True
    db.commit()
    client.headers["accept"] = "text/html,application/xhtml+xml"  # as a browser sends
    login(client, "alice")
    return user


def consent(client: TestClient, app: FakeApp, **params: str) -> Any:
    query = {"descriptor_uri": app.descriptor_url, **params}
    return client.get("/site/addons/authorize", params=query)


def grant(client: TestClient, page: Any, account: str = "acme", **extra: str) -> Any:
    html = page.text
    fields = {
        name: _hidden(html, name)
        for name in ("descriptor_uri", "addon_key", "redirect_uri", "consent")
    }
    data = {**fields, "account": account, "action": "grant", "csrf_token": csrf_from(html), **extra}
    return client.post("/site/addons/authorize", data=data, follow_redirects=False)


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)].replace("&amp;", "&")


def installations(db: Session) -> int:
    db.expire_all()
    n = db.scalar(select(func.count()).select_from(Installation)) or 0
    db.rollback()
    return n


class TestConsentDialog:
    def test_shows_app_vendor_base_url_and_scopes_in_words(
        self, client: TestClient, alice: User, fake_app: FakeApp
    ) -> None:
        r = consent(client, fake_app)
        assert r.status_code == 200
        assert "Install Fake app com.example.fake?" in r.text
        assert "Tests Ltd" in r.text
        assert fake_app.base_url in r.text
        assert "Read your account information" in r.text
        assert "Read your repositories: source, history, clone" in r.text
        assert "all scopes" not in r.text

    def test_missing_scopes_are_shown_as_all_scopes(self, client: TestClient, alice: User) -> None:
        app = FakeApp("com.example.greedy", omit_scopes=True)
        try:
            r = consent(client, app)
            assert "asks for <strong>all scopes</strong>" in r.text
            assert "Delete your repositories" in r.text
            assert "Read your pipelines" in r.text
        finally:
            app.close()

    def test_app_supplied_text_is_escaped(self, client: TestClient, alice: User) -> None:
        app = FakeApp(
            "com.example.xss",
            name="<script>alert(1)</script>",
            description='<img src=x onerror="alert(2)">',
            vendor={"name": "<b>Evil</b>", "url": "javascript:alert(3)"},
        )
        try:
            r = consent(client, app)
            assert r.status_code == 200
            assert "<script>alert(1)</script>" not in r.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
            assert "<img src=x" not in r.text
            assert "<b>Evil</b>" not in r.text
            assert 'href="javascript' not in r.text
        finally:
            app.close()

    def test_target_picker_lists_own_account_and_administered_workspaces(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        bob = make_user(db, "bob")
        make_team(db, "bobs-team", bob)
        other = make_team(db, "member-only", bob)
        AccountService(db, SECRET).add_member(other, alice, "member")
        db.commit()
        html = consent(client, fake_app).text
        assert 'value="alice"' in html
        assert 'value="acme"' in html
        assert 'value="bobs-team"' not in html
        assert 'value="member-only"' not in html
        # alice's own account has development mode off: not eligible for a URL install
        assert "development mode is off" in html

    def test_without_any_development_mode_account_grant_is_disabled_with_a_hint(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        acme = db.scalar(select(Workspace).where(Workspace.slug == "acme"))
        assert acme is not None
        acme.dev_mode = False
        db.commit()
        html = consent(client, fake_app).text
        assert "turn on development mode on an account you administer" in html
        assert 'value="grant" disabled' in html

    def test_requires_login(self, client: TestClient, fake_app: FakeApp) -> None:
        r = client.get(
            "/site/addons/authorize",
            params={"descriptor_uri": fake_app.descriptor_url},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")

    def test_exactly_one_of_descriptor_uri_and_addon_key(
        self, client: TestClient, alice: User
    ) -> None:
        r = client.get("/site/addons/authorize")
        assert r.status_code == 400
        assert "exactly one of descriptor_uri and addon_key" in r.text

    def test_redirect_uri_outside_the_base_url_is_refused(
        self, client: TestClient, alice: User, fake_app: FakeApp
    ) -> None:
        r = consent(client, fake_app, redirect_uri="https://evil.example/steal")
        assert r.status_code == 400
        assert "does not start with the app&#39;s baseUrl" in r.text

    def test_bad_descriptor_is_shown_with_its_path(
        self, client: TestClient, alice: User, fake_app: FakeApp
    ) -> None:
        fake_app.descriptor["scopes"] = ["nope"]
        r = consent(client, fake_app)
        assert r.status_code == 400
        assert "scopes[0]: unknown scope &#34;nope&#34;" in r.text


class TestGrant:
    def test_grant_installs_and_returns_to_the_installed_apps(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        r = grant(client, consent(client, fake_app))
        assert r.status_code == 303
        assert r.headers["location"] == "/acme/workspace/settings/addons"
        assert installations(db) == 1
        page = client.get("/acme/workspace/settings/addons")
        assert "Fake app com.example.fake" in page.text
        assert "@alice" in page.text
        assert "installed on acme" in page.text

    def test_without_csrf_token_nothing_happens(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        page = consent(client, fake_app)
        r = grant(client, page, csrf_token="forged")
        assert r.status_code == 403
        assert installations(db) == 0
        assert fake_app.requests_to("/installed") == []

    def test_redirect_uri_gets_client_key_and_a_signed_jwt(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        target = fake_app.base_url + "/done?state=xyz"
        r = grant(client, consent(client, fake_app, redirect_uri=target))
        assert r.status_code == 303
        location = r.headers["location"]
        assert location.startswith(target + "&client_key=")
        query = parse_qs(urlsplit(location).query)
        client_key = query["client_key"][0]
        ok, claims, err = fake_app.verify("GET", location.removeprefix(fake_app.origin), {})
        assert ok, err
        assert claims is not None
        assert claims["iss"] == client_key
        assert claims["sub"] == alice.uuid

    def test_post_install_redirect_fills_its_parameters(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        app = FakeApp(
            "com.example.redirecting",
            modules={
                "postInstallRedirect": {
                    "key": "after",
                    "url": "/setup?u={user_username}&id={user_uuid}&t={user_type}",
                }
            },
        )
        try:
            r = grant(client, consent(client, app))
            location = r.headers["location"]
            acme = db.scalar(select(Workspace).where(Workspace.slug == "acme"))
            assert acme is not None
            query = parse_qs(urlsplit(location).query)
            assert location.startswith(app.base_url + "/setup?")
            assert query["u"] == ["acme"]
            assert query["id"] == [acme.uuid]
            assert query["t"] == ["team"]
            ok, _, err = app.verify("GET", location.removeprefix(app.origin), {})
            assert ok, err
        finally:
            app.close()

    def test_cancel_goes_back_to_the_app_with_access_denied(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        target = fake_app.base_url + "/done"
        r = grant(client, consent(client, fake_app, redirect_uri=target), action="cancel")
        assert r.status_code == 303
        assert r.headers["location"] == target + "?error=access_denied"
        assert installations(db) == 0

    def test_cancel_without_redirect_goes_to_settings(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        r = grant(client, consent(client, fake_app), action="cancel")
        assert r.headers["location"] == "/account/settings/addons"
        assert installations(db) == 0

    def test_scopes_changed_after_consent_asks_again(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        page = consent(client, fake_app)
        fake_app.descriptor["scopes"] = ["account", "repository", "repository:delete"]
        r = grant(client, page)
        assert r.status_code == 409
        assert "requested access changed" in r.text
        assert "Delete your repositories" in r.text
        assert installations(db) == 0
        assert fake_app.requests_to("/installed") == []

    def test_failed_callback_shows_the_apps_status_and_answer_escaped(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        fake_app.behaviour.installed_status = 500
        fake_app.behaviour.installed_body = b"<b>boom</b>"
        r = grant(client, consent(client, fake_app))
        assert r.status_code == 502
        assert "HTTP status <strong>500</strong>" in r.text
        assert "&lt;b&gt;boom&lt;/b&gt;" in r.text
        assert "<b>boom</b>" not in r.text
        assert installations(db) == 0

    def test_url_install_on_an_account_without_development_mode_is_refused(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        r = grant(client, consent(client, fake_app), account="alice")
        assert r.status_code == 403
        assert "development mode is off" in r.text
        assert installations(db) == 0

    def test_a_non_admin_cannot_pick_a_workspace(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        bob = make_user(db, "bob")
        team = make_team(db, "bobs", bob)
        team.dev_mode = True
        AccountService(db, SECRET).add_member(team, alice, "member")
        db.commit()
        r = grant(client, consent(client, fake_app), account="bobs")
        assert r.status_code == 403
        assert installations(db) == 0

    def test_second_install_on_the_same_account_is_a_signed_reinstall(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        grant(client, consent(client, fake_app))
        page = consent(client, fake_app)
        assert "(installed: reinstall)" in page.text
        r = grant(client, page)
        assert r.status_code == 303
        second = fake_app.requests_to("/installed")[1]
        assert second.jwt_ok, second.jwt_error
        assert installations(db) == 1


class TestInstalledApps:
    def test_lists_scopes_installer_configure_link_and_remove(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        acme = db.scalar(select(Workspace).where(Workspace.slug == "acme"))
        assert acme is not None
        raw = {
            "key": "com.example.cfg",
            "name": "Configurable",
            "description": "d",
            "baseUrl": "https://cfg.example.com",
            "authentication": {"type": "jwt"},
            "scopes": ["pullrequest"],
            "modules": {
                "configurePage": {
                    "key": "cfg",
                    "name": {"value": "Setup"},
                    "url": "/configure?ws={workspace.slug}",
                }
            },
        }
        inst, _ = make_installation(
            db, acme, alice, key="com.example.cfg", scopes="pullrequest", raw=raw
        )
        html = client.get("/acme/workspace/settings/addons").text
        assert "Configurable" in html
        assert "@alice" in html
        assert 'title="Read your repositories and their pull requests">pullrequest<' in html
        assert f'href="/site/addons/installations/{inst.id}/configure"' in html
        assert f'href="/site/addons/installations/{inst.id}/remove"' in html
        page = client.get(f"/site/addons/installations/{inst.id}/configure")
        assert page.status_code == 200
        [frame] = [
            json.loads(html_lib.unescape(m))
            for m in re.findall(r'data-ap-module="([^"]*)"', page.text)
        ]
        # signed, sandboxed by host.js; {workspace.slug} needs the account scope it lacks
        assert frame["url"].startswith("https://cfg.example.com/configure?ws=&xdm_e=")
        assert "&jwt=" in frame["url"]
        assert frame["options"]["isFullPage"] is True
        assert "frame-src https://cfg.example.com" in page.headers["content-security-policy"]

    def test_all_scopes_badge(self, client: TestClient, db: Session, alice: User) -> None:
        personal = db.scalar(select(Workspace).where(Workspace.slug == "alice"))
        assert personal is not None
        make_installation(db, personal, alice, scopes=None)
        html = client.get("/account/settings/addons").text
        assert "all scopes" in html
        assert "Example app" in html

    def test_settings_navigation_has_the_sections(self, client: TestClient, alice: User) -> None:
        html = client.get("/account/settings").text
        assert 'href="/account/settings/addons"' in html
        assert 'href="/account/settings/addons/marketplace"' in html
        ws_html = client.get("/acme/workspace/settings").text
        assert 'href="/acme/workspace/settings/addons"' in ws_html

    def test_install_from_url_form_only_in_development_mode(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        assert 'name="descriptor_uri"' in client.get("/acme/workspace/settings/addons").text
        html = client.get("/account/settings/addons").text
        assert 'name="descriptor_uri"' not in html
        assert "Turn on development mode" in html

    def test_workspace_pages_are_hidden_from_members_who_are_not_admins(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        bob = make_user(db, "bob")
        team = make_team(db, "bobs", bob)
        AccountService(db, SECRET).add_member(team, alice, "member")
        inst, _ = make_installation(db, team, bob)
        assert client.get("/bobs/workspace/settings/addons").status_code == 404
        assert client.get(f"/site/addons/installations/{inst.id}/remove").status_code == 404


class TestRemove:
    def test_confirmation_then_uninstall_signed_with_the_current_secret(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        grant(client, consent(client, fake_app))
        db.expire_all()
        inst = db.scalar(select(Installation))
        assert inst is not None
        inst_id = inst.id
        db.rollback()
        page = client.get(f"/site/addons/installations/{inst_id}/remove")
        assert "Remove Fake app com.example.fake?" in page.text
        assert "for every member" in page.text
        r = client.post(
            f"/site/addons/installations/{inst_id}/remove",
            data={"csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/acme/workspace/settings/addons"
        [call] = fake_app.requests_to("/uninstalled")
        assert call.jwt_ok, call.jwt_error
        assert installations(db) == 0
        assert "removed from acme" in client.get("/acme/workspace/settings/addons").text

    def test_removal_without_csrf_is_refused(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        acme = db.scalar(select(Workspace).where(Workspace.slug == "acme"))
        assert acme is not None
        inst, _ = make_installation(db, acme, alice)
        r = client.post(f"/site/addons/installations/{inst.id}/remove", data={})
        assert r.status_code == 403
        assert installations(db) == 1


class TestPendingUpgrade:
    def test_notice_shows_the_difference_and_approve_applies_it(
        self, client: TestClient, db: Session, alice: User
    ) -> None:
        acme = db.scalar(select(Workspace).where(Workspace.slug == "acme"))
        assert acme is not None
        inst, _ = make_installation(db, acme, alice, scopes="account repository")
        inst.pending_scopes = "account repository pullrequest:write"
        db.commit()
        inst_id = inst.id
        db.rollback()
        html = client.get("/acme/workspace/settings/addons").text
        assert "asks for more access" in html
        assert "<code>pullrequest:write</code>" in html
        assert "<code>pullrequest</code>" in html
        assert "<code>account</code>" not in html  # only the difference
        r = client.post(
            f"/site/addons/installations/{inst_id}/approve",
            data={"csrf_token": csrf_from(html)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        db.expire_all()
        row = db.get(Installation, inst_id)
        assert row is not None
        assert row.scopes == "account pullrequest:write repository"
        assert row.pending_scopes is None


class TestMarketplace:
    def listed(self, db: Session, app: FakeApp) -> None:
        MarketplaceService(db).add(
            parse_descriptor(app.descriptor), app.descriptor, app.descriptor_url
        )
        db.commit()

    def test_find_apps_lists_with_add_buttons(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        self.listed(db, fake_app)
        html = client.get("/account/settings/addons/marketplace").text
        assert "Fake app com.example.fake" in html
        assert "Tests Ltd" in html
        assert f"/site/addons/authorize?addon_key={fake_app.key}&amp;account=alice" in html
        ws_html = client.get("/acme/workspace/settings/addons/marketplace").text
        assert "account=acme" in ws_html

    def test_listed_app_installs_without_development_mode(
        self, client: TestClient, db: Session, alice: User, fake_app: FakeApp
    ) -> None:
        self.listed(db, fake_app)
        page = client.get(
            "/site/addons/authorize", params={"addon_key": fake_app.key, "account": "alice"}
        )
        assert "not in the Marketplace" not in page.text
        r = grant(client, page, account="alice")
        assert r.status_code == 303
        assert r.headers["location"] == "/account/settings/addons"
        assert installations(db) == 1

    def test_unknown_addon_key_is_404(self, client: TestClient, alice: User) -> None:
        assert client.get("/site/addons/authorize", params={"addon_key": "nope"}).status_code == 404

    def test_empty_marketplace(self, client: TestClient, alice: User) -> None:
        assert "The Marketplace is empty" in client.get("/account/settings/addons/marketplace").text


def test_no_client_key_record_is_left_by_a_cancelled_install(
    client: TestClient, db: Session, alice: User, fake_app: FakeApp
) -> None:
    grant(client, consent(client, fake_app), action="cancel")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AppClientKey)) == 0
    db.rollback()
