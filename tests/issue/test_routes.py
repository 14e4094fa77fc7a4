"""REST 2.0 issue tracker, on every database backend: issues, comments, changes, events,
permissions and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Event, User
from appdock.repo.context import RepoContext
from appdock.repo.service import RepoService
from tests.factories.account import basic, make_app_password, make_team, make_user
from tests.factories.pullrequest import make_issue, make_repo, subject_of

API = "/api/2.0"
ISSUES = f"{API}/repositories/acme/widget/issues"
ISSUE_KEYS = {
    "type",
    "id",
    "repository",
    "title",
    "reporter",
    "assignee",
    "created_on",
    "updated_on",
    "edited_on",
    "state",
    "kind",
    "priority",
    "milestone",
    "version",
    "component",
    "votes",
    "content",
    "links",
}


@dataclass
class World:
    alice: User
    bob: User
    eve: User
    repo: RepoContext
    alice_h: dict[str, str]
    bob_h: dict[str, str]
    eve_h: dict[str, str]


@pytest.fixture
def world(db: Session, settings: Settings) -> World:
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    eve = make_user(db, "eve")
    team = make_team(db, "acme", alice, bob)
    repo = make_repo(db, settings, alice, workspace=team)
    return World(
        alice,
        bob,
        eve,
        repo,
        basic("alice", make_app_password(db, alice, "issue:write")),
        basic("bob", make_app_password(db, bob, "issue:write")),
        basic("eve", make_app_password(db, eve, "issue:write")),
    )


def _events(db: Session, key: str) -> list[Event]:
    db.rollback()
    return list(db.scalars(select(Event).where(Event.key == key).order_by(Event.id)))


def _create(client: TestClient, w: World, **body: Any) -> dict[str, Any]:
    payload = {"title": "Crash on start", "content": {"raw": "It *crashes*"}, **body}
    r = client.post(ISSUES, headers=w.bob_h, json=payload)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


class TestCreate:
    def test_shape_defaults_and_created_event(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        issue = _create(client, world)
        assert set(issue) >= ISSUE_KEYS
        assert issue["type"] == "issue" and issue["id"] == 1
        assert (issue["kind"], issue["priority"], issue["state"]) == ("bug", "major", "new")
        assert issue["content"] == {
            "type": "rendered",
            "raw": "It *crashes*",
            "markup": "markdown",
            "html": "<p>It <em>crashes</em></p>\n",
        }
        assert issue["reporter"]["uuid"] == world.bob.uuid and issue["assignee"] is None
        assert issue["votes"] == 0
        assert issue["links"]["self"]["href"] == f"http://testserver{ISSUES}/1"
        assert issue["links"]["html"]["href"] == "http://testserver/acme/widget/issues/1"
        assert issue["repository"]["full_name"] == "acme/widget"
        (event,) = _events(db, "issue:created")
        assert set(event.payload) == {"actor", "issue", "repository"}
        assert event.payload["issue"]["id"] == 1 and event.payload["issue"]["kind"] == "bug"
        assert event.payload["actor"]["uuid"] == world.bob.uuid

    def test_kind_priority_and_assignee_as_atlassian_python_api_sends_them(
        self, client: TestClient, world: World
    ) -> None:
        issue = _create(
            client,
            world,
            kind="enhancement",
            priority="critical",
            assignee={"account_id": world.alice.account_id},
        )
        assert (issue["kind"], issue["priority"]) == ("enhancement", "critical")
        assert issue["assignee"]["uuid"] == world.alice.uuid

    def test_bad_kind_and_missing_title_are_400_naming_the_field(
        self, client: TestClient, world: World
    ) -> None:
        r = client.post(ISSUES, headers=world.bob_h, json={"title": "x", "kind": "feature"})
        assert r.status_code == 400 and "kind" in r.json()["error"]["fields"]
        r = client.post(ISSUES, headers=world.bob_h, json={"content": {"raw": "x"}})
        assert r.status_code == 400 and "title" in r.json()["error"]["fields"]

    def test_an_assignee_who_cannot_see_the_repository_is_400(
        self, client: TestClient, world: World
    ) -> None:
        r = client.post(
            ISSUES, headers=world.bob_h, json={"title": "x", "assignee": {"uuid": world.eve.uuid}}
        )
        assert r.status_code == 400 and "assignee" in r.json()["error"]["fields"]

    def test_ids_count_up_per_repository(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        other = make_repo(db, settings, world.alice, "other")
        make_issue(db, settings, world.alice, other)
        assert _create(client, world)["id"] == 1
        assert _create(client, world)["id"] == 2


class TestReadAndList:
    def test_list_filters_and_sorts(self, client: TestClient, world: World) -> None:
        _create(client, world, title="one", priority="minor")
        _create(client, world, title="two", priority="blocker", kind="task")
        _create(client, world, title="three", state="resolved")
        page = client.get(ISSUES + "/", headers=world.alice_h).json()
        assert page["size"] == 3
        r = client.get(ISSUES, params={"q": 'kind = "task"'}, headers=world.alice_h)
        assert [i["title"] for i in r.json()["values"]] == ["two"]
        r = client.get(
            ISSUES, params={"q": 'state != "resolved"', "sort": "-priority"}, headers=world.alice_h
        )
        assert [i["title"] for i in r.json()["values"]] == ["two", "one"]
        r = client.get(ISSUES, params={"q": 'title ~ "THR"'}, headers=world.alice_h)
        assert [i["id"] for i in r.json()["values"]] == [3]
        assert (
            client.get(ISSUES, params={"sort": "colour"}, headers=world.alice_h).status_code == 400
        )

    def test_get_one_and_404(self, client: TestClient, world: World) -> None:
        _create(client, world)
        assert client.get(ISSUES + "/1", headers=world.alice_h).json()["title"] == "Crash on start"
        assert client.get(ISSUES + "/9", headers=world.alice_h).status_code == 404

    def test_an_outsider_gets_404(self, client: TestClient, world: World) -> None:
        _create(client, world)
        assert client.get(ISSUES, headers=world.eve_h).status_code == 404
        assert client.get(ISSUES + "/1", headers=world.eve_h).status_code == 404

    def test_reading_needs_the_issue_scope(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        pw = make_app_password(db, world.alice, "repository pullrequest")
        r = client.get(ISSUES, headers=basic("alice", pw))
        assert r.status_code == 403 and r.json()["error"]["data"]["required_scope"] == "issue"
        read = make_app_password(db, world.alice, "issue")
        assert client.get(ISSUES, headers=basic("alice", read)).status_code == 200
        r = client.post(ISSUES, headers=basic("alice", read), json={"title": "x"})
        assert r.status_code == 403 and r.json()["error"]["data"]["required_scope"] == "issue:write"

    def test_a_repository_without_a_tracker_has_no_issues(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        RepoService(db, settings).update(subject_of(world.alice), world.repo, has_issues=False)
        db.commit()
        r = client.get(ISSUES, headers=world.alice_h)
        assert r.status_code == 404 and "no issue tracker" in r.json()["error"]["message"]

    def test_anyone_may_read_a_public_trackers_issues(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        RepoService(db, settings).update(subject_of(world.alice), world.repo, is_private=False)
        db.commit()
        _create(client, world)
        assert client.get(ISSUES + "/1").status_code == 200
        # ...and a logged-in outsider may file one, but not change someone else's
        assert client.post(ISSUES, headers=world.eve_h, json={"title": "mine"}).status_code == 201
        r = client.put(ISSUES + "/1", headers=world.eve_h, json={"state": "closed"})
        assert r.status_code == 403


class TestUpdate:
    def test_put_records_changes_and_publishes_updated(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _create(client, world)
        r = client.put(
            ISSUES + "/1",
            headers=world.alice_h,
            json={"state": "resolved", "priority": "minor", "assignee": {"uuid": world.bob.uuid}},
        )
        assert r.status_code == 200
        body = r.json()
        assert (body["state"], body["priority"]) == ("resolved", "minor")
        assert body["assignee"]["uuid"] == world.bob.uuid and body["edited_on"] is None
        (event,) = _events(db, "issue:updated")
        assert set(event.payload) >= {"actor", "issue", "repository", "changes", "comment"}
        changes = event.payload["changes"]
        assert changes["state"] == {"old": "new", "new": "resolved"}
        assert changes["priority"] == {"old": "major", "new": "minor"}
        assert changes["assignee"] == {"old": "", "new": "bob"}
        assert event.payload["comment"] is None
        r = client.put(ISSUES + "/1", headers=world.alice_h, json={"assignee": None})
        assert r.json()["assignee"] is None

    def test_title_edits_set_edited_on(self, client: TestClient, world: World) -> None:
        _create(client, world)
        r = client.put(ISSUES + "/1", headers=world.bob_h, json={"title": "Crash when empty"})
        assert r.json()["title"] == "Crash when empty" and r.json()["edited_on"]

    def test_nothing_changed_publishes_nothing(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _create(client, world)
        client.put(ISSUES + "/1", headers=world.alice_h, json={"state": "new"})
        assert _events(db, "issue:updated") == []

    def test_changes_endpoint_with_a_message(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _create(client, world)
        r = client.post(
            ISSUES + "/1/changes",
            headers=world.alice_h,
            json={
                "changes": {
                    "state": {"new": "closed"},
                    "assignee_account_id": {"new": world.bob.account_id},
                },
                "message": {"raw": "Fixed in main"},
            },
        )
        assert r.status_code == 201
        change = r.json()
        assert change["type"] == "issue_change"
        assert change["changes"]["state"] == {"old": "new", "new": "closed"}
        assert change["message"]["raw"] == "Fixed in main"
        assert change["user"]["uuid"] == world.alice.uuid
        assert client.get(ISSUES + "/1", headers=world.alice_h).json()["state"] == "closed"
        listed = client.get(ISSUES + "/1/changes", headers=world.alice_h).json()["values"]
        assert [c["id"] for c in listed] == [change["id"]]
        (event,) = _events(db, "issue:updated")
        assert event.payload["comment"]["content"]["raw"] == "Fixed in main"
        assert event.payload["comment"]["type"] == "issue_comment"
        comments = client.get(ISSUES + "/1/comments", headers=world.alice_h).json()["values"]
        assert [c["content"]["raw"] for c in comments] == ["Fixed in main"]

    def test_an_unknown_state_is_400(self, client: TestClient, world: World) -> None:
        _create(client, world)
        r = client.put(ISSUES + "/1", headers=world.alice_h, json={"state": "done"})
        assert r.status_code == 400 and "state" in r.json()["error"]["fields"]

    def test_delete_needs_write_access(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        RepoService(db, settings).update(subject_of(world.alice), world.repo, is_private=False)
        db.commit()
        client.post(ISSUES, headers=world.eve_h, json={"title": "mine"})
        assert client.delete(ISSUES + "/1", headers=world.eve_h).status_code == 403
        assert client.delete(ISSUES + "/1", headers=world.bob_h).status_code == 204
        assert client.get(ISSUES + "/1", headers=world.bob_h).status_code == 404


class TestComments:
    def test_comment_crud_and_event(self, client: TestClient, db: Session, world: World) -> None:
        _create(client, world)
        r = client.post(
            ISSUES + "/1/comments", headers=world.alice_h, json={"content": {"raw": "Same here"}}
        )
        assert r.status_code == 201
        comment = r.json()
        assert comment["type"] == "issue_comment" and comment["issue"]["id"] == 1
        assert comment["user"]["uuid"] == world.alice.uuid
        (event,) = _events(db, "issue:comment_created")
        assert set(event.payload) == {"actor", "repository", "issue", "comment"}
        assert event.payload["comment"]["content"]["raw"] == "Same here"
        cid = comment["id"]
        url = ISSUES + f"/1/comments/{cid}"
        assert client.get(url, headers=world.bob_h).json()["id"] == cid
        assert (
            client.put(url, headers=world.bob_h, json={"content": {"raw": "x"}}).status_code == 403
        )
        r = client.put(url, headers=world.alice_h, json={"content": {"raw": "Same here too"}})
        assert r.json()["content"]["raw"] == "Same here too"
        assert client.delete(url, headers=world.alice_h).status_code == 204
        assert client.get(url, headers=world.alice_h).status_code == 404

    def test_empty_comment_is_400(self, client: TestClient, world: World) -> None:
        _create(client, world)
        r = client.post(
            ISSUES + "/1/comments", headers=world.alice_h, json={"content": {"raw": ""}}
        )
        assert r.status_code == 400
