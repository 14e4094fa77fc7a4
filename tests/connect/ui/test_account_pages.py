"""adminPages (repository settings, workspace and personal settings) and profileTabs (user and
workspace profile pages): links where Bitbucket shows them, signed pages, admins only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.account.store import AccountStore
from appdock.config import Settings
from appdock.connect.ui.service import MODULE_CACHE
from appdock.models import User, Workspace
from tests.connect.conftest import login
from tests.connect.ui.pages_helpers import APP_BASE, frames, ui_descriptor, verify
from tests.factories.account import make_team, make_user
from tests.factories.connect import make_installation
from tests.factories.repo import make_repo, seed_history


def account_descriptor(key: str = "com.example.admin") -> dict[str, Any]:
    return ui_descriptor(
        key,
        repoPages=[],
        webPanels=[],
        adminPages=[
            {
                "key": "repo-settings",
                "name": {"value": "App repository settings"},
                "url": "/repo-admin?repo={repository.full_name}",
                "location": "org.bitbucket.repository.admin",
            },
            {
                "key": "ws-settings",
                "name": {"value": "App workspace settings"},
                "url": "/ws-admin?ws={workspace.slug}",
                "location": "org.bitbucket.account.admin",
            },
        ],
        profileTabs=[
            {
                "key": "stats",
                "name": {"value": "App stats"},
                "url": "/stats?ws={workspace.slug}&user={target_user.uuid}",
            }
        ],
    )


@pytest.fixture
def people(db: Session, settings: Settings, client: TestClient) -> Iterator[dict[str, Any]]:
    MODULE_CACHE.clear()
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    acme = make_team(db, "acme", alice, bob, name="Acme")
    seed_history(db, settings, make_repo(db, settings, alice, "widget", workspace=acme))
    inst, secret = make_installation(
        db, acme, alice, key="com.example.admin", raw=account_descriptor()
    )
    client.headers["accept"] = "text/html"
    login(client, "alice")
    yield {"alice": alice, "bob": bob, "acme": acme, "inst": inst, "secret": secret}
    db.rollback()  # before the client's lifespan disposes the engine (PostgreSQL)


def relogin(client: TestClient, username: str) -> None:
    client.cookies.clear()
    login(client, username)


class TestRepositoryAdminPages:
    def test_admin_sees_the_link_and_the_signed_page(
        self, client: TestClient, people: dict[str, Any]
    ) -> None:
        page = client.get("/acme/widget/admin").text
        href = "/acme/widget/admin/addon/com.example.admin/repo-settings"
        assert f'href="{href}"' in page
        r = client.get(href)
        assert r.status_code == 200
        url = frames(r.text)["repo-settings"]["url"]
        assert url.startswith(APP_BASE + "/repo-admin?repo=acme%2Fwidget&")
        verify(url, people["secret"], people["inst"].client_key)
        assert f"frame-src {APP_BASE}" in r.headers["content-security-policy"]

    def test_member_gets_neither_link_nor_page(
        self, client: TestClient, people: dict[str, Any]
    ) -> None:
        relogin(client, "bob")
        assert "repo-settings" not in client.get("/acme/widget").text
        r = client.get("/acme/widget/admin/addon/com.example.admin/repo-settings")
        assert r.status_code == 404

    def test_workspace_admin_page_is_not_a_repository_page(
        self, client: TestClient, people: dict[str, Any]
    ) -> None:
        r = client.get("/acme/widget/admin/addon/com.example.admin/ws-settings")
        assert r.status_code == 404


class TestWorkspaceAdminPages:
    def test_settings_sidebar_links_the_page(
        self, client: TestClient, people: dict[str, Any]
    ) -> None:
        page = client.get("/acme/workspace/settings").text
        href = "/acme/workspace/settings/addon/com.example.admin/ws-settings"
        assert f'href="{href}">App workspace settings</a>' in page
        assert "App repository settings" not in page
        r = client.get(href)
        assert r.status_code == 200
        url = frames(r.text)["ws-settings"]["url"]
        assert url.startswith(APP_BASE + "/ws-admin?ws=acme&")
        claims = verify(url, people["secret"], people["inst"].client_key)
        assert claims["sub"] == people["alice"].uuid
        assert "host.js" in r.text

    def test_members_who_are_not_admins_get_404(
        self, client: TestClient, people: dict[str, Any]
    ) -> None:
        relogin(client, "bob")
        r = client.get("/acme/workspace/settings/addon/com.example.admin/ws-settings")
        assert r.status_code == 404

    def test_personal_account_settings(
        self, db: Session, client: TestClient, people: dict[str, Any]
    ) -> None:
        personal = AccountStore(db).personal_workspace(people["alice"].id)
        assert personal is not None
        make_installation(
            db,
            personal,
            people["alice"],
            key="com.example.mine",
            raw=account_descriptor("com.example.mine"),
        )
        page = client.get("/account/settings").text
        href = "/account/settings/addon/com.example.mine/ws-settings"
        assert f'href="{href}"' in page
        assert "com.example.admin" not in page  # the team's app is not in personal settings
        r = client.get(href)
        assert r.status_code == 200
        assert frames(r.text)["ws-settings"]["url"].startswith(APP_BASE + "/ws-admin?ws=alice&")


class TestProfileTabs:
    def test_workspace_profile_shows_the_tab_and_its_page(
        self, client: TestClient, people: dict[str, Any]
    ) -> None:
        page = client.get("/acme").text
        href = "/acme/workspace/profile/addon/com.example.admin/stats"
        assert f'href="{href}"' in page and ">App stats</a>" in page
        r = client.get(href)
        assert r.status_code == 200
        url = frames(r.text)["stats"]["url"]
        assert url.startswith(APP_BASE + "/stats?ws=acme&user=&")  # a team has no target_user
        verify(url, people["secret"], people["inst"].client_key)

    def test_user_profile_carries_the_target_user(
        self, db: Session, client: TestClient, people: dict[str, Any]
    ) -> None:
        bob: User = people["bob"]
        personal: Workspace | None = AccountStore(db).personal_workspace(bob.id)
        assert personal is not None
        make_installation(
            db, personal, bob, key="com.example.mine", raw=account_descriptor("com.example.mine")
        )
        relogin(client, "bob")
        assert "App stats" in client.get("/bob").text
        r = client.get("/bob/workspace/profile/addon/com.example.mine/stats")
        url = frames(r.text)["stats"]["url"]
        assert f"user=%7B{bob.uuid[1:-1]}%7D" in url

    def test_other_workspaces_do_not_show_the_tab(
        self, db: Session, client: TestClient, people: dict[str, Any]
    ) -> None:
        make_team(db, "globex", people["alice"], name="Globex")
        assert "App stats" not in client.get("/globex").text
        r = client.get("/globex/workspace/profile/addon/com.example.admin/stats")
        assert r.status_code == 404
