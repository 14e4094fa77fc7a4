"""Account pages: login, logout, CSRF, dashboard, workspace pages and settings."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.models import AppPassword, Membership, WebSession, Workspace
from tests.factories.account import PASSWORD, basic, make_team, make_user
from tests.web_helpers import csrf_from, login, post_form


class TestLogin:
    def test_form_is_served_with_csrf(self, client: TestClient) -> None:
        r = client.get("/login")
        assert r.status_code == 200
        assert 'type="password"' in r.text
        assert csrf_from(r.text)

    def test_correct_password_sets_signed_httponly_cookie(
        self, client: TestClient, db: Session
    ) -> None:
        make_user(db, "alice")
        page = client.get("/login")
        r = client.post(
            "/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("adk_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        assert "." in value  # token.signature
        assert db.scalar(select(WebSession)) is not None
        assert client.get("/").status_code == 200

    def test_wrong_password_says_so(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        page = client.get("/login")
        r = client.post(
            "/login",
            data={"username": "alice", "password": "wrong", "csrf_token": csrf_from(page.text)},
        )
        assert r.status_code == 401
        assert "Incorrect username or password" in r.text

    def test_missing_csrf_token_is_refused(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        client.get("/login")
        r = client.post("/login", data={"username": "alice", "password": PASSWORD})
        assert r.status_code == 403
        assert db.scalar(select(WebSession)) is None

    def test_forged_csrf_token_is_refused(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        client.get("/login")
        r = client.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "f" * 64}
        )
        assert r.status_code == 403

    def test_tampered_session_cookie_is_anonymous(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        value = client.cookies["adk_session"]
        client.cookies.set("adk_session", value[:-2] + "xx")
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"

    def test_next_is_followed_only_when_relative(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        for target, expected in (
            ("/account/settings", "/account/settings"),
            ("https://evil.test/", "/"),
            ("//evil.test", "/"),
            ("/\\evil.test", "/"),  # browsers read /\ as //
        ):
            client.cookies.clear()
            page = client.get("/login")
            r = client.post(
                "/login",
                data={
                    "username": "alice",
                    "password": PASSWORD,
                    "next": target,
                    "csrf_token": csrf_from(page.text),
                },
                follow_redirects=False,
            )
            assert r.headers["location"] == expected, target

    def test_logout_ends_the_session(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        old = client.cookies["adk_session"]
        r = post_form(client, "/", "/logout", {})
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert db.scalar(select(WebSession)) is None
        client.cookies.set("adk_session", old)
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"


class TestPages:
    def test_login_required_redirects_with_next(self, client: TestClient) -> None:
        r = client.get("/account/settings", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Faccount%2Fsettings"

    def test_dashboard_lists_workspaces(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice, name="Acme <Corp>")
        login(client, "alice", PASSWORD)
        r = client.get("/")
        assert "Acme &lt;Corp&gt;" in r.text and "Acme <Corp>" not in r.text
        assert 'href="/acme"' in r.text

    def test_host_pages_refuse_framing(self, client: TestClient) -> None:
        r = client.get("/login")
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]

    def test_workspace_page_hidden_from_outsiders(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_user(db, "mallory")
        make_team(db, "acme", alice)
        login(client, "mallory", PASSWORD)
        assert client.get("/acme").status_code == 404
        client.cookies.clear()
        login(client, "alice", PASSWORD)
        assert client.get("/acme").status_code == 200

    def test_unknown_page_is_404_page(self, client: TestClient) -> None:
        r = client.get("/no-such-workspace", headers={"accept": "text/html"})
        assert r.status_code == 404
        assert "Not found" in r.text

    def test_avatar_is_svg(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        r = client.get("/account/alice/avatar")
        assert r.headers["content-type"].startswith("image/svg+xml")
        assert ">A<" in r.text


class TestCreateWorkspace:
    def test_form_creates_team_owned_by_viewer(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        r = post_form(
            client, "/workspaces/new", "/workspaces/new", {"slug": "acme", "name": "Acme"}
        )
        assert r.headers["location"] == "/acme"  # type: ignore[attr-defined]
        ws = db.scalar(select(Workspace).where(Workspace.slug == "acme"))
        assert ws is not None and ws.kind == "team"

    def test_bad_slug_shows_message_and_stores_nothing(
        self, client: TestClient, db: Session
    ) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        token = csrf_from(client.get("/workspaces/new").text)
        r = client.post(
            "/workspaces/new", data={"slug": "Bad Slug", "name": "X", "csrf_token": token}
        )
        assert r.status_code == 400
        assert "is not valid" in r.text
        assert db.scalar(select(Workspace).where(Workspace.name == "X")) is None


class TestWorkspaceSettings:
    def test_admin_adds_and_promotes_member(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_user(db, "bob")
        make_team(db, "acme", alice)
        login(client, "alice", PASSWORD)
        settings_url = "/acme/workspace/settings"
        post_form(
            client, settings_url, f"{settings_url}/members", {"username": "bob", "role": "member"}
        )
        post_form(
            client, settings_url, f"{settings_url}/members/bob", {"role": "admin", "action": "role"}
        )
        roles = {
            m.role
            for m in db.scalars(select(Membership).join(Workspace).where(Workspace.slug == "acme"))
        }
        assert roles == {"owner", "admin"}

    def test_last_owner_cannot_be_demoted(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        login(client, "alice", PASSWORD)
        url = "/acme/workspace/settings"
        post_form(client, url, f"{url}/members/alice", {"role": "member", "action": "role"})
        page = client.get(url)
        assert "at least one owner" in page.text
        db.expire_all()
        assert (
            db.scalar(
                select(Membership.role).where(
                    Membership.user_id == alice.id, Membership.workspace_id != alice.id
                )
            )
            is not None
        )

    def test_members_cannot_open_settings(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        bob = make_user(db, "bob")
        make_team(db, "acme", alice, bob)
        login(client, "bob", PASSWORD)
        assert client.get("/acme/workspace/settings").status_code == 404

    def test_dev_mode_toggle(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        login(client, "alice", PASSWORD)
        url = "/acme/workspace/settings"
        post_form(client, url, f"{url}/dev-mode", {"enabled": "on"})
        db.expire_all()
        assert db.scalar(select(Workspace.dev_mode).where(Workspace.slug == "acme")) is True


class TestAppPasswords:
    def test_create_shows_secret_once_and_it_works(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        url = "/account/settings/app-passwords"
        token = csrf_from(client.get(url).text)
        r = client.post(
            url, data={"label": "ci", "scopes": ["account", "repository"], "csrf_token": token}
        )
        match = re.search(r'id="new-secret">([^<]+)<', r.text)
        assert match
        secret = match.group(1)
        assert secret.startswith("adk_app_")
        assert secret not in client.get(url).text
        row = db.scalar(select(AppPassword))
        assert row is not None and secret not in (row.token_hash, row.scopes)
        api = client.get("/api/2.0/user", headers=basic("alice", secret))
        assert api.status_code == 200

    def test_revoked_password_stops_working(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        url = "/account/settings/app-passwords"
        token = csrf_from(client.get(url).text)
        r = client.post(url, data={"label": "ci", "scopes": ["account"], "csrf_token": token})
        match = re.search(r'id="new-secret">([^<]+)<', r.text)
        assert match
        row = db.scalar(select(AppPassword))
        assert row is not None
        post_form(client, url, f"{url}/{row.id}/revoke", {})
        assert (
            client.get("/api/2.0/user", headers=basic("alice", match.group(1))).status_code == 401
        )

    def test_unknown_scope_is_refused(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        url = "/account/settings/app-passwords"
        token = csrf_from(client.get(url).text)
        r = client.post(
            url, data={"label": "x", "scopes": ["repository:everything"], "csrf_token": token}
        )
        assert r.status_code == 400
        assert "repository:everything" in r.text
        assert db.scalar(select(AppPassword)) is None


class TestProfile:
    def test_profile_update_and_password_change(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        post_form(
            client,
            "/account/settings",
            "/account/settings/profile",
            {"display_name": "Alice A.", "email": "a@example.test"},
        )
        assert "Alice A." in client.get("/account/settings").text
        post_form(
            client,
            "/account/settings",
            "/account/settings/password",
            {"current_password": "wrong-one", "new_password": "new-password-1"},
        )
        assert "is not your current password" in client.get("/account/settings").text
        post_form(
            client,
            "/account/settings",
            "/account/settings/password",
            {"current_password": PASSWORD, "new_password": "new-password-1"},
        )
        client.cookies.clear()
        login(client, "alice", "new-password-1")
