"""App properties on repositories, commits, pull requests and users, and the linker values API:
only the owning app touches its data, everyone else sees a 404; bad bodies name the problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.appdata.service import MAX_PROPERTY_BYTES, linker_values
from appdock.config import Settings
from appdock.connect.service import ConnectService
from appdock.core.db import make_session_factory
from appdock.core.urls import Urls
from appdock.models import Installation, Workspace
from tests.factories.account import SECRET, basic, make_app_password, make_team, make_user
from tests.factories.connect import app_jwt, descriptor, make_installation
from tests.factories.pullrequest import make_branch, make_repo, open_pr

API = "/api/2.0"
LINKERS = {
    "linkers": [
        {"key": "ticket", "regex": "TICKET-(?K)", "url": "/t/\\1"},
        {"key": "other", "regex": "X-(\\d+)", "url": "/x/\\1"},
    ]
}


@dataclass
class App:
    key: str
    client_key: str
    secret: str
    installation_id: int

    def headers(self, method: str, path: str) -> dict[str, str]:
        token = app_jwt(
            app_key=self.key,
            client_key=self.client_key,
            secret=self.secret,
            method=method,
            path=path.split("?")[0],
        )
        return {"Authorization": f"JWT {token}"}


class Caller:
    def __init__(self, client: TestClient, app: App) -> None:
        self.client, self.app = client, app

    def __call__(self, method: str, path: str, **kw: Any) -> Any:
        headers = self.app.headers(method, "/2.0" + path)
        return self.client.request(method, API + path, headers=headers, **kw)


@dataclass
class World:
    acme: Workspace
    owner: Caller
    stranger: Caller  # another app on the same workspace, with the same scopes
    elsewhere: Caller  # the same app installed on another workspace
    alice_auth: dict[str, str]
    commit: str


def install(db: Session, ws: Workspace, key: str) -> App:
    raw = descriptor(key, modules=LINKERS, lifecycle={})
    inst, secret = make_installation(
        db, ws, key=key, scopes="account repository pullrequest", raw=raw
    )
    return App(key, inst.client_key, secret, inst.id)


@pytest.fixture
def world(db: Session, settings: Settings, client: TestClient) -> World:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    repo = make_repo(db, settings, alice, "widget", workspace=acme)
    make_branch(settings, repo, "feature", {"f.txt": "f\n"})
    open_pr(db, settings, alice, repo, "feature")
    mallory = make_user(db, "mallory")
    other = make_team(db, "other", mallory)
    make_repo(db, settings, mallory, "secret", workspace=other)
    head = client.get(
        f"{API}/repositories/acme/widget/commits/main",
        headers=basic("alice", make_app_password(db, alice, "repository")),
    ).json()["values"][0]["hash"]
    return World(
        acme=acme,
        owner=Caller(client, install(db, acme, "com.example.props")),
        stranger=Caller(client, install(db, acme, "com.example.stranger")),
        elsewhere=Caller(client, install(db, other, "com.example.props")),
        alice_auth=basic("alice", make_app_password(db, alice, "account repository pullrequest")),
        commit=head,
    )


def targets(world: World) -> list[str]:
    return [
        "/repositories/acme/widget",
        f"/repositories/acme/widget/commit/{world.commit}",
        "/repositories/acme/widget/pullrequests/1",
        "/users/alice",
    ]


class TestProperties:
    def test_the_app_stores_reads_replaces_and_deletes_on_every_object(self, world: World) -> None:
        for target in targets(world):
            path = f"{target}/properties/com.example.props/state"
            assert world.owner("GET", path).status_code == 404
            r = world.owner("PUT", path, json={"status": "green", "n": 1})
            assert r.status_code == 204, (target, r.text)
            assert world.owner("GET", path).json() == {"status": "green", "n": 1}
            world.owner("PUT", path, json={"status": "red"})
            assert world.owner("GET", path).json() == {"status": "red"}
            assert world.owner("DELETE", path).status_code == 204
            assert world.owner("GET", path).status_code == 404
            assert world.owner("DELETE", path).status_code == 404

    def test_another_app_and_users_get_404(self, world: World, client: TestClient) -> None:
        for target in targets(world):
            path = f"{target}/properties/com.example.props/state"
            world.owner("PUT", path, json={"secret": "s"})
            assert world.stranger("GET", path).status_code == 404
            assert world.stranger("PUT", path, json={"x": 1}).status_code == 404
            assert world.stranger("DELETE", path).status_code == 404
            r = client.get(API + path, headers=world.alice_auth)
            assert r.status_code == 404, target
            assert world.owner("GET", path).json() == {"secret": "s"}

    def test_a_public_value_is_readable_by_who_sees_the_object(
        self, world: World, client: TestClient
    ) -> None:
        path = "/repositories/acme/widget/properties/com.example.props/badge"
        world.owner("PUT", path, json={"_attributes": ["public"], "label": "ok"})
        assert client.get(API + path, headers=world.alice_auth).json()["label"] == "ok"
        assert world.stranger("GET", path).status_code == 200
        assert world.stranger("PUT", path, json={"label": "forged"}).status_code == 404

    def test_the_same_app_elsewhere_cannot_reach_a_hidden_repository(self, world: World) -> None:
        path = "/repositories/acme/widget/properties/com.example.props/state"
        world.owner("PUT", path, json={"a": 1})
        assert world.elsewhere("GET", path).status_code == 404
        assert world.elsewhere("PUT", path, json={"a": 2}).status_code == 404
        assert world.owner("GET", path).json() == {"a": 1}

    def test_a_short_hash_names_the_same_commit(self, world: World) -> None:
        world.owner(
            "PUT",
            f"/repositories/acme/widget/commit/{world.commit}/properties/com.example.props/c",
            json={"v": 1},
        )
        short = (
            f"/repositories/acme/widget/commit/{world.commit[:10]}/properties/com.example.props/c"
        )
        assert world.owner("GET", short).json() == {"v": 1}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ([1, 2], "body"),
            ("text", "body"),
            ({"_attributes": ["everyone"]}, "_attributes"),
            ({"_attributes": "public"}, "_attributes"),
            ({"blob": "x" * MAX_PROPERTY_BYTES}, "body"),
        ],
    )
    def test_bad_values_are_400_naming_the_field(self, world: World, body: Any, field: str) -> None:
        r = world.owner(
            "PUT", "/repositories/acme/widget/properties/com.example.props/p", json=body
        )
        assert r.status_code == 400, r.text
        assert field in r.json()["error"]["fields"] or field == "body"

    def test_unknown_objects_are_404(self, world: World) -> None:
        for target in (
            "/repositories/acme/nope",
            "/repositories/acme/widget/commit/0123456789abcdef",
            "/repositories/acme/widget/pullrequests/99",
            "/users/nobody",
        ):
            r = world.owner("PUT", f"{target}/properties/com.example.props/p", json={})
            assert r.status_code == 404, target

    def test_anonymous_is_401(self, world: World, client: TestClient) -> None:
        r = client.get(f"{API}/users/alice/properties/com.example.props/p")
        assert r.status_code == 401


def values_of(db: Session, installation_id: int, key: str) -> list[str]:
    with make_session_factory(db.get_bind(), deferred=True)() as fresh:  # type: ignore[arg-type]
        return linker_values(fresh, installation_id, key)


class TestLinkerValues:
    def test_add_list_get_replace_and_delete(self, world: World, db: Session) -> None:
        base = "/addon/linkers/ticket/values"
        r = world.owner("POST", base, json={"value": "ABC-1"})
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["type"] == "linker_value" and first["value"] == "ABC-1"
        assert world.owner("POST", base, json={"value": "ABC-1"}).status_code == 409
        world.owner("POST", base, json={"value": "ABC-2"})
        listed = world.owner("GET", base).json()
        assert [v["value"] for v in listed["values"]] == ["ABC-1", "ABC-2"] and listed["size"] == 2
        assert world.owner("GET", f"{base}/{first['id']}").json()["value"] == "ABC-1"
        assert values_of(db, world.owner.app.installation_id, "ticket") == ["ABC-1", "ABC-2"]

        r = world.owner("PUT", base, json=[{"value": "Z-9"}, {"value": "Y_8"}, {"value": "Z-9"}])
        assert r.status_code == 204, r.text
        pass
        assert values_of(db, world.owner.app.installation_id, "ticket") == ["Z-9", "Y_8"]
        assert [v["value"] for v in world.owner("GET", base).json()["values"]] == ["Z-9", "Y_8"]

        one = world.owner("GET", base).json()["values"][0]["id"]
        assert world.owner("DELETE", f"{base}/{one}").status_code == 204
        pass
        assert values_of(db, world.owner.app.installation_id, "ticket") == ["Y_8"]
        assert world.owner("DELETE", base).status_code == 204
        pass
        assert values_of(db, world.owner.app.installation_id, "ticket") == []

    def test_values_belong_to_one_installation(self, world: World) -> None:
        world.owner("POST", "/addon/linkers/ticket/values", json={"value": "ABC-1"})
        assert world.elsewhere("GET", "/addon/linkers/ticket/values").json()["values"] == []
        mine = world.owner("GET", "/addon/linkers/ticket/values").json()["values"][0]["id"]
        r = world.elsewhere("GET", f"/addon/linkers/ticket/values/{mine}")
        assert r.status_code == 404

    def test_linkers_come_from_the_descriptor(self, world: World) -> None:
        listed = world.owner("GET", "/addon/linkers").json()
        assert [linker["key"] for linker in listed["values"]] == ["ticket", "other"]
        assert world.owner("GET", "/addon/linkers/ticket").json()["regex"] == "TICKET-(?K)"
        assert world.owner("GET", "/addon/linkers/nope/values").status_code == 404
        assert (
            world.owner("POST", "/addon/linkers/nope/values", json={"value": "a"}).status_code
            == 404
        )

    @pytest.mark.parametrize("value", ["has space", "a/b", "x" * 256])
    def test_values_that_can_never_match_are_400(self, world: World, value: str) -> None:
        r = world.owner("POST", "/addon/linkers/ticket/values", json={"value": value})
        assert r.status_code == 400 and "value" in r.json()["error"]["fields"]

    def test_only_an_app_may_call(self, world: World, client: TestClient) -> None:
        r = client.get(f"{API}/addon/linkers/ticket/values", headers=world.alice_auth)
        assert r.status_code == 401 and "app JWT" in r.json()["error"]["message"]

    def test_values_go_with_the_installation(self, world: World, db: Session) -> None:
        world.owner("POST", "/addon/linkers/ticket/values", json={"value": "ABC-1"})
        inst = db.get(Installation, world.owner.app.installation_id)
        assert inst is not None
        ConnectService(db, SECRET, Urls("http://testserver")).uninstall(inst)
        db.commit()
        assert linker_values(db, world.owner.app.installation_id, "ticket") == []
        assert world.owner("GET", "/addon/linkers/ticket/values").status_code == 401
