"""``POST /site/connect/resolve``: dialog URLs signed for the page an app's frame is on."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Installation, User
from appdock.repo.service import RepoService
from tests.connect.conftest import form_token, login
from tests.factories.account import make_team, make_user
from tests.factories.connect import descriptor, make_installation
from tests.factories.pullrequest import make_branch, make_repo, open_pr, subject_of

RESOLVE = "/site/connect/resolve"
APP = "com.example.dialogs"
BASE = "https://dialogs.example.com/app"


@pytest.fixture
def alice(db: Session) -> User:
    return make_user(db, "alice")


@pytest.fixture
def installed(db: Session, settings: Settings, alice: User) -> tuple[Installation, str]:
    bob = make_user(db, "bob")
    acme = make_team(db, "acme", alice, bob)
    make_repo(db, settings, alice, "widget", workspace=acme)
    raw = descriptor(
        APP,
        baseUrl=BASE,
        modules={
            "webItems": [
                {
                    "key": "ask",
                    "name": {"value": "Ask"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/ask?repo={repository.full_name}",
                    "target": {"type": "dialog"},
                },
                {
                    "key": "admins",
                    "name": {"value": "Admins"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/admins",
                    "target": {"type": "dialog"},
                    "conditions": [
                        {"condition": "has_permission", "params": {"permission": "admin"}}
                    ],
                },
                {
                    "key": "pr-ask",
                    "name": {"value": "Ask about the pull request"},
                    "location": "org.bitbucket.pullrequest.summary.actions",
                    "url": "/ask?pr={pullrequest.id}",
                    "target": {"type": "dialog"},
                },
                {
                    "key": "out",
                    "name": {"value": "Out"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "https://elsewhere.example.com/",
                },
            ]
        },
    )
    return make_installation(db, acme, alice, key=APP, raw=raw, scopes="account pullrequest")


def resolve(client: TestClient, body: Any, csrf: bool = True) -> Any:
    headers = {"X-CSRF-Token": form_token(client)} if csrf else {}
    return client.post(RESOLVE, json=body, headers=headers)


def claims_of(url: str, secret: str, client_key: str) -> dict[str, Any]:
    token = parse_qs(urlsplit(url).query)["jwt"][0]
    return dict(pyjwt.decode(token, secret, algorithms=["HS256"], audience=client_key))


class TestByKey:
    def test_a_dialog_module_the_viewer_sees_is_signed_for_them(
        self, client: TestClient, alice: User, installed: tuple[Installation, str]
    ) -> None:
        inst, secret = installed
        login(client, "alice")
        body = {"addonKey": APP, "moduleKey": "ask", "context": {"repository": "acme/widget"}}
        r = resolve(client, body)
        assert r.status_code == 200, r.text
        url = r.json()["url"]
        assert url.startswith(BASE + "/ask?repo=acme%2Fwidget&")
        assert claims_of(url, secret, inst.client_key)["sub"] == alice.uuid

    def test_a_module_whose_condition_the_viewer_fails_is_not_signed(
        self, client: TestClient, installed: tuple[Installation, str]
    ) -> None:
        login(client, "bob")
        body = {"addonKey": APP, "moduleKey": "admins", "context": {"repository": "acme/widget"}}
        r = resolve(client, body)
        assert r.status_code == 404
        assert "no dialog or frame module 'admins'" in r.json()["error"]["message"]

    def test_a_link_module_is_not_a_dialog(
        self, client: TestClient, alice: User, installed: tuple[Installation, str]
    ) -> None:
        login(client, "alice")
        body = {"addonKey": APP, "moduleKey": "out", "context": {"repository": "acme/widget"}}
        assert resolve(client, body).status_code == 404

    def test_on_a_pull_request_page_the_pull_request_is_filled(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        alice: User,
        installed: tuple[Installation, str],
    ) -> None:
        repo = RepoService(db, settings).get("acme", "widget", subject_of(alice))
        make_branch(settings, repo, "feature", {"f.txt": "x\n"})
        pr = open_pr(db, settings, alice, repo, "feature")
        login(client, "alice")
        context = {"repository": "acme/widget", "pullrequest": pr.pr.number}
        r = resolve(client, {"addonKey": APP, "moduleKey": "pr-ask", "context": context})
        assert r.status_code == 200, r.text
        assert r.json()["url"].startswith(f"{BASE}/ask?pr={pr.pr.number}&")


class TestByUrl:
    def test_an_app_relative_url_is_signed_with_the_apps_installation(
        self, client: TestClient, alice: User, installed: tuple[Installation, str]
    ) -> None:
        inst, secret = installed
        login(client, "alice")
        body = {"addonKey": APP, "url": "/free?x=1", "context": {"repository": "acme/widget"}}
        r = resolve(client, body)
        assert r.status_code == 200, r.text
        assert r.json()["url"].startswith(BASE + "/free?x=1&xdm_e=")
        assert claims_of(r.json()["url"], secret, inst.client_key)["iss"] == inst.client_key

    @pytest.mark.parametrize("url", ["https://evil.example/phish", "//evil.example/x"])
    def test_a_url_outside_the_app_is_refused(
        self, client: TestClient, alice: User, installed: tuple[Installation, str], url: str
    ) -> None:
        login(client, "alice")
        r = resolve(client, {"addonKey": APP, "url": url, "context": {"repository": "acme/widget"}})
        assert r.status_code == 404
        assert "outside the app's baseUrl" in r.json()["error"]["message"]


class TestRefusals:
    def test_an_app_that_does_not_serve_the_page(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        alice: User,
        installed: tuple[Installation, str],
    ) -> None:
        make_repo(db, settings, alice, "mine")
        login(client, "alice")
        body = {"addonKey": APP, "url": "/free", "context": {"repository": "alice/mine"}}
        r = resolve(client, body)
        assert r.status_code == 404
        assert "does not serve this page" in r.json()["error"]["message"]

    def test_a_repository_the_viewer_cannot_see(
        self, client: TestClient, db: Session, installed: tuple[Installation, str]
    ) -> None:
        make_user(db, "mallory")
        login(client, "mallory")
        body = {"addonKey": APP, "moduleKey": "ask", "context": {"repository": "acme/widget"}}
        assert resolve(client, body).status_code == 404

    def test_without_csrf_header(
        self, client: TestClient, installed: tuple[Installation, str]
    ) -> None:
        login(client, "alice")
        body = {"addonKey": APP, "moduleKey": "ask", "context": {"repository": "acme/widget"}}
        assert resolve(client, body, csrf=False).status_code == 403

    @pytest.mark.parametrize(
        "body",
        [[], {"moduleKey": "ask"}, {"addonKey": APP}, {"addonKey": APP, "moduleKey": "ask"}],
    )
    def test_bad_requests_name_the_field(
        self, client: TestClient, alice: User, installed: tuple[Installation, str], body: Any
    ) -> None:
        login(client, "alice")
        r = resolve(client, body)
        assert r.status_code == 400, r.text
