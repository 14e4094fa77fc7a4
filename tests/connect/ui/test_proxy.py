"""``AP.proxyRequest``: route matching and signing (pure), and the endpoint host.js calls,
forwarding to a real app on loopback that checks the JWT with atlassian-jwt."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.account.store import AccountStore
from appdock.config import Settings
from appdock.connect.ui.proxy import ProxyCall, match_route, plan
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.scopes import Scope, closure
from appdock.models import Installation, User
from tests.connect.conftest import form_token, login
from tests.connect.fakeapp import FakeApp
from tests.factories import pullrequest as pr_factories
from tests.factories.account import make_user
from tests.factories.connect import make_installation
from tests.factories.repo import make_repo

ROUTES = {
    "/can-land": "/api/proxy/can-land?aaid={user.uuid}&repo={repository.full_name}",
    "/land/{id}/go": "/api/proxy/land/{id}?who={user.uuid}",
    "/away": "https://evil.example/steal",
}


def call(url: str, method: str = "GET", **kw: Any) -> ProxyCall:
    return ProxyCall(method=method, url=url, headers=kw.get("headers", {}), body=None, context={})


class TestMatchRoute:
    def test_exact_route(self) -> None:
        assert match_route(ROUTES, "/can-land") == (ROUTES["/can-land"], {})

    def test_template_segments_match_one_segment_each(self) -> None:
        assert match_route(ROUTES, "/land/7/go") == (ROUTES["/land/{id}/go"], {"id": "7"})
        assert match_route(ROUTES, "/land/7/8/go") is None
        assert match_route(ROUTES, "/land//go") is None

    def test_unknown_path(self) -> None:
        assert match_route(ROUTES, "/nope") is None


class TestPlan:
    BASE = "https://app.example.com/bb"

    def make(self, c: ProxyCall, **kw: Any) -> Any:
        return plan(
            call=c,
            routes=ROUTES,
            base_url=self.BASE,
            client_key="ck",
            shared_secret="s" * 32,
            scopes=closure({Scope.REPOSITORY, Scope.ACCOUNT}),
            objects={"user": {"uuid": "{u-1}"}, "repository": {"full_name": "acme/widget"}},
            viewer_uuid="{u-1}",
            now=1_700_000_000,
            **kw,
        )

    def test_fills_context_joins_and_signs_over_the_destination(self) -> None:
        import jwt as pyjwt
        from atlassian_jwt.url_utils import hash_url

        built = self.make(call("/can-land?x=1", headers={"Accept": "a/b", "Cookie": "no"}))
        assert built.url == (
            self.BASE + "/api/proxy/can-land?aaid=%7Bu-1%7D&repo=acme%2Fwidget&x=1"
        )
        assert set(built.headers) == {"Accept", "Authorization"}
        claims = pyjwt.decode(
            built.headers["Authorization"].removeprefix("JWT "),
            "s" * 32,
            algorithms=["HS256"],
            audience="ck",
            options={"verify_exp": False},
        )
        assert claims["iss"] == "ck" and claims["sub"] == "{u-1}"
        path = urlsplit(built.url)
        assert claims["qsh"] == hash_url("GET", path.path.removeprefix("/bb") + "?" + path.query)

    def test_segment_values_fill_the_destination_encoded(self) -> None:
        built = self.make(call("/land/a%2Fb/go", method="POST"))
        assert built.url.startswith(self.BASE + "/api/proxy/land/a%2Fb?who=")
        assert built.method == "POST"

    def test_unknown_route_names_the_declared_ones(self) -> None:
        with pytest.raises(NotFound, match="/can-land"):
            self.make(call("/nope"))

    def test_destination_outside_the_app_is_refused(self) -> None:
        with pytest.raises(Forbidden, match="leaves the app's baseUrl"):
            self.make(call("/away"))


class TestParse:
    @pytest.mark.parametrize(
        "data",
        [
            [],
            {"url": "//evil/x"},
            {"url": "relative"},
            {"url": "/x", "method": "TRACE"},
            {"url": "/x", "body": {"a": 1}},
        ],
    )
    def test_bad_envelopes_are_refused(self, data: Any) -> None:
        with pytest.raises(BadRequest):
            ProxyCall.parse(data)


# -- the endpoint -----------------------------------------------------------------------------


@pytest.fixture
def proxy_app() -> Any:
    app = FakeApp(
        "com.example.proxy",
        base_path="/bb",
        modules={
            "proxy": {
                "/can-land": {
                    "destination": "/proxy/can-land?aaid={user.uuid}&repo={repository.full_name}"
                }
            }
        },
    )
    yield app
    app.close()


@pytest.fixture
def alice(db: Session) -> User:
    return make_user(db, "alice")


@pytest.fixture
def installed(db: Session, alice: User, proxy_app: FakeApp) -> Installation:
    ws = AccountStore(db).personal_workspace(alice.id)
    assert ws is not None
    inst, secret = make_installation(
        db, ws, alice, key=proxy_app.key, scopes="account repository", raw=proxy_app.descriptor
    )
    proxy_app.tenants[inst.client_key] = {"clientKey": inst.client_key, "sharedSecret": secret}
    return inst


def proxy_post(
    client: TestClient, inst: Installation, envelope: dict[str, Any], **headers: str
) -> Any:
    base = {
        "X-Appdock-App-Key": inst.app_key,
        "X-Appdock-Client-Key": inst.client_key,
        "X-CSRF-Token": form_token(client),
    }
    base.update(headers)
    path = envelope["url"].split("?")[0]
    return client.post(f"/site/connect/proxy/{inst.app_key}{path}", json=envelope, headers=base)


class TestProxyEndpoint:
    def test_forwards_signed_with_the_page_context(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        alice: User,
        installed: Installation,
        proxy_app: FakeApp,
    ) -> None:
        make_repo(db, settings, alice, "widget")
        login(client, "alice")
        envelope = {
            "method": "POST",
            "url": "/can-land",
            "headers": {"Content-Type": "application/json"},
            "body": '{"n": 1}',
            "context": {"repository": "alice/widget"},
        }
        r = proxy_post(client, installed, envelope)
        assert r.status_code == 204, r.text
        assert r.headers["x-appdock-proxy"] == "1"
        [seen] = proxy_app.requests_to("/proxy/can-land")
        assert seen.jwt_ok, seen.jwt_error
        assert seen.jwt_claims and seen.jwt_claims["sub"] == alice.uuid
        query = parse_qs(urlsplit(seen.path).query)
        assert query == {"aaid": [alice.uuid], "repo": ["alice/widget"]}
        assert seen.body == b'{"n": 1}'
        assert "cookie" not in {k.lower() for k in seen.headers}

    def test_a_pull_request_page_fills_the_pull_request(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        alice: User,
        installed: Installation,
        proxy_app: FakeApp,
    ) -> None:
        installed.descriptor = {
            **installed.descriptor,
            "modules": {
                "proxy": {"/can-land": {"destination": "/proxy/can-land?pr={pullrequest.id}"}}
            },
        }
        installed.scopes = "account pullrequest"  # the pullrequest root needs this scope
        db.commit()
        repo = pr_factories.make_repo(db, settings, alice, "widget")
        pr_factories.make_branch(settings, repo, "feature", {"f.txt": "x\n"})
        pr = pr_factories.open_pr(db, settings, alice, repo, "feature")
        login(client, "alice")
        context = {"repository": "alice/widget", "pullrequest": pr.pr.number}
        assert (
            proxy_post(client, installed, {"url": "/can-land", "context": context}).status_code
            == 200
        )
        [seen] = proxy_app.requests_to("/proxy/can-land")
        assert parse_qs(urlsplit(seen.path).query) == {"pr": [str(pr.pr.number)]}

    def test_a_repository_the_viewer_cannot_see_fills_nothing(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        alice: User,
        installed: Installation,
        proxy_app: FakeApp,
    ) -> None:
        bob = make_user(db, "bob")
        make_repo(db, settings, bob, "hidden")
        login(client, "alice")
        envelope = {"method": "GET", "url": "/can-land", "context": {"repository": "bob/hidden"}}
        assert proxy_post(client, installed, envelope).status_code == 200
        [seen] = proxy_app.requests_to("/proxy/can-land")
        assert parse_qs(urlsplit(seen.path).query, keep_blank_values=True)["repo"] == [""]

    def test_without_csrf_header_nothing_is_sent(
        self, client: TestClient, alice: User, installed: Installation, proxy_app: FakeApp
    ) -> None:
        login(client, "alice")
        r = client.post(
            f"/site/connect/proxy/{installed.app_key}/can-land",
            json={"url": "/can-land"},
            headers={
                "X-Appdock-App-Key": installed.app_key,
                "X-Appdock-Client-Key": installed.client_key,
            },
        )
        assert r.status_code == 403
        assert proxy_app.requests_to("/proxy/can-land") == []

    def test_another_users_session_cannot_use_the_installation(
        self, client: TestClient, db: Session, installed: Installation, proxy_app: FakeApp
    ) -> None:
        make_user(db, "mallory")
        login(client, "mallory")
        r = proxy_post(client, installed, {"url": "/can-land"})
        assert r.status_code == 404 and r.headers["x-appdock-proxy"] == "error"
        assert proxy_app.requests_to("/proxy/can-land") == []

    def test_unknown_route_is_a_clear_404(
        self, client: TestClient, alice: User, installed: Installation
    ) -> None:
        login(client, "alice")
        r = proxy_post(client, installed, {"url": "/nope"})
        assert r.status_code == 404
        assert "no proxy route matches '/nope'" in r.json()["error"]["message"]

    def test_an_envelope_that_is_not_an_object_is_a_clear_400(
        self, client: TestClient, alice: User, installed: Installation
    ) -> None:
        login(client, "alice")
        headers = {
            "X-Appdock-App-Key": installed.app_key,
            "X-Appdock-Client-Key": installed.client_key,
            "X-CSRF-Token": form_token(client),
        }
        r = client.post(f"/site/connect/proxy/{installed.app_key}/x", json=[1], headers=headers)
        assert r.status_code == 400 and r.headers["x-appdock-proxy"] == "error"
        assert "expected a JSON object" in r.json()["error"]["message"]

    def test_app_key_must_match_the_url(
        self, client: TestClient, alice: User, installed: Installation
    ) -> None:
        login(client, "alice")
        r = proxy_post(client, installed, {"url": "/can-land"}, **{"X-Appdock-App-Key": "x"})
        assert r.status_code == 403

    def test_anonymous_viewers_are_refused(
        self, client: TestClient, installed: Installation
    ) -> None:
        client.get("/login")
        r = proxy_post(client, installed, {"url": "/can-land"})
        assert r.status_code == 403
        assert "signed-in viewer" in r.json()["error"]["message"]
