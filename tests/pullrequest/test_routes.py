"""REST 2.0 pull request endpoints, on every database backend: open, list, review, comment, merge
with git (each strategy, conflicts, a racing push), decline, permissions and scopes, events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.git import GitRepo
from appdock.models import Event, User
from appdock.repo.context import RepoContext
from appdock.repo.push import spool_dir
from appdock.repo.service import RepoService
from tests.factories.account import basic, make_app_password, make_team, make_user
from tests.factories.pullrequest import (
    git_of,
    make_branch,
    make_repo,
    open_pr,
    subject_of,
    write_commit,
)

API = "/api/2.0"
PRS = f"{API}/repositories/acme/widget/pullrequests"

# The keys of a pull request in Bitbucket's webhook payloads
# (shared/compat/webhook-payloads/pullrequest_created.json).
PR_KEYS = {
    "type",
    "id",
    "title",
    "description",
    "rendered",
    "summary",
    "state",
    "author",
    "source",
    "destination",
    "merge_commit",
    "comment_count",
    "task_count",
    "close_source_branch",
    "closed_by",
    "reason",
    "created_on",
    "updated_on",
    "reviewers",
    "participants",
    "links",
}
PR_LINKS = {
    "self",
    "html",
    "commits",
    "approve",
    "request-changes",
    "diff",
    "diffstat",
    "comments",
    "activity",
    "merge",
    "decline",
    "statuses",
}


@dataclass
class World:
    alice: User  # owner of acme
    bob: User  # member of acme
    eve: User  # outsider
    repo: RepoContext
    git: GitRepo
    alice_h: dict[str, str]
    bob_h: dict[str, str]
    eve_h: dict[str, str]


@pytest.fixture
def world(db: Session, settings: Settings) -> World:
    alice = make_user(db, "alice", display_name="Alice Owner")
    bob = make_user(db, "bob", display_name="Bob Member")
    eve = make_user(db, "eve")
    team = make_team(db, "acme", alice, bob)
    repo = make_repo(db, settings, alice, workspace=team)
    make_branch(settings, repo, "feature", {"feature.txt": "a feature\n"}, message="Add feature")
    return World(
        alice=alice,
        bob=bob,
        eve=eve,
        repo=repo,
        git=git_of(settings, repo),
        alice_h=basic("alice", make_app_password(db, alice, "pullrequest:write")),
        bob_h=basic("bob", make_app_password(db, bob, "pullrequest:write")),
        eve_h=basic("eve", make_app_password(db, eve, "pullrequest:write")),
    )


def _open(client: TestClient, w: World, source: str = "feature", **extra: Any) -> dict[str, Any]:
    body = {"title": "Add a feature", "source": {"branch": {"name": source}}, **extra}
    r = client.post(PRS, headers=w.bob_h, json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _events(db: Session, key: str) -> list[Event]:
    db.rollback()  # see what the requests committed
    return list(db.scalars(select(Event).where(Event.key == key).order_by(Event.id)))


def _refs(git: GitRepo) -> str:
    return git.text("for-each-ref", "--format=%(refname) %(objectname)")


def _conflicting_change(settings: Settings, w: World) -> None:
    """feature and main both rewrite app.py's one line."""
    write_commit(settings, w.repo, {"app.py": "print('main')\n"}, branch="main", message="main")
    write_commit(settings, w.repo, {"app.py": "print('feat')\n"}, branch="feature", message="f")


class TestOpen:
    def test_opens_with_bitbucket_shape_and_publishes_created(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        pr = _open(client, world, description="Adds *it*.", close_source_branch=True)
        assert pr["type"] == "pullrequest" and pr["id"] == 1 and pr["state"] == "OPEN"
        assert set(pr) >= PR_KEYS and set(pr["links"]) >= PR_LINKS
        assert pr["source"]["branch"]["name"] == "feature"
        assert pr["source"]["commit"]["hash"] == world.git.resolve("feature")
        assert pr["destination"]["branch"]["name"] == "main"
        assert pr["destination"]["commit"]["hash"] == world.git.resolve("main")
        assert pr["destination"]["repository"]["full_name"] == "acme/widget"
        assert pr["author"]["uuid"] == world.bob.uuid and pr["author"]["type"] == "user"
        assert pr["close_source_branch"] is True
        assert pr["rendered"]["description"]["html"] == "<p>Adds <em>it</em>.</p>\n"
        assert (
            pr["links"]["self"]["href"]
            == "http://testserver/api/2.0/repositories/acme/widget/pullrequests/1"
        )
        assert pr["links"]["html"]["href"] == "http://testserver/acme/widget/pull-requests/1"
        (event,) = _events(db, "pullrequest:created")
        assert set(event.payload) == {"actor", "pullrequest", "repository"}
        assert event.payload["actor"]["uuid"] == world.bob.uuid
        assert event.payload["pullrequest"]["id"] == 1
        assert set(event.payload["pullrequest"]) >= PR_KEYS
        assert event.payload["repository"]["full_name"] == "acme/widget"
        assert event.payload["pullrequest"]["source"]["repository"]["type"] == "repository"
        assert event.repository_id == world.repo.repo.id and event.actor_user_id == world.bob.id

    def test_the_source_commit_is_kept_in_a_hidden_ref(
        self, client: TestClient, world: World
    ) -> None:
        pr = _open(client, world)
        assert world.git.ref_value("refs/pullrequests/1/from") == pr["source"]["commit"]["hash"]
        hidden = world.git.text("config", "--get-all", "transfer.hideRefs").split()
        assert "refs/pullrequests" in hidden

    def test_numbers_count_up_per_repository(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        make_branch(settings, world.repo, "second", {"s.txt": "s\n"})
        assert _open(client, world)["id"] == 1
        assert _open(client, world, "second")["id"] == 2

    def test_reviewers_by_uuid_become_reviewer_participants(
        self, client: TestClient, world: World
    ) -> None:
        pr = _open(client, world, reviewers=[{"uuid": world.alice.uuid}])
        assert [r["uuid"] for r in pr["reviewers"]] == [world.alice.uuid]
        (p,) = pr["participants"]
        assert p["type"] == "participant" and p["role"] == "REVIEWER"
        assert p["approved"] is False and p["state"] is None

    def test_a_missing_source_branch_is_400_with_the_error_envelope(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        r = client.post(
            PRS,
            headers=world.bob_h,
            json={
                "title": "x",
                "source": {"branch": {"name": "nope"}},
                "destination": {"branch": {"name": "main"}},
            },
        )
        assert r.status_code == 400
        body = r.json()
        assert body["type"] == "error"
        assert "'nope' not found" in body["error"]["message"]
        assert "source.branch.name" in body["error"]["fields"]
        assert _events(db, "pullrequest:created") == []
        assert "refs/pullrequests" not in _refs(world.git)

    def test_a_missing_destination_branch_is_400(self, client: TestClient, world: World) -> None:
        r = client.post(
            PRS,
            headers=world.bob_h,
            json={
                "title": "x",
                "source": {"branch": {"name": "feature"}},
                "destination": {"branch": {"name": "gone"}},
            },
        )
        assert r.status_code == 400
        assert "destination.branch.name" in r.json()["error"]["fields"]

    def test_no_title_is_400_naming_the_field(self, client: TestClient, world: World) -> None:
        r = client.post(PRS, headers=world.bob_h, json={"source": {"branch": {"name": "feature"}}})
        assert r.status_code == 400
        assert "title" in r.json()["error"]["fields"]

    def test_a_branch_into_itself_is_400(self, client: TestClient, world: World) -> None:
        r = client.post(
            PRS,
            headers=world.bob_h,
            json={"title": "x", "source": {"branch": {"name": "main"}}},
        )
        assert r.status_code == 400
        assert "same" in r.json()["error"]["message"]

    def test_nothing_to_merge_is_400_and_leaves_no_ref(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        world.git.update_ref("refs/heads/old", world.git.resolve("main") or "")
        r = client.post(
            PRS, headers=world.bob_h, json={"title": "x", "source": {"branch": {"name": "old"}}}
        )
        assert r.status_code == 400
        assert "no changes" in r.json()["error"]["message"]
        assert "refs/pullrequests" not in _refs(world.git)

    def test_unknown_reviewer_and_author_as_reviewer_are_400(
        self, client: TestClient, world: World
    ) -> None:
        for reviewer in (
            {"uuid": "{00000000-0000-0000-0000-000000000000}"},
            {"uuid": world.bob.uuid},
        ):
            r = client.post(
                PRS,
                headers=world.bob_h,
                json={
                    "title": "x",
                    "source": {"branch": {"name": "feature"}},
                    "reviewers": [reviewer],
                },
            )
            assert r.status_code == 400, reviewer
            assert "reviewers" in r.json()["error"]["fields"]

    def test_a_reviewer_who_cannot_see_the_repository_is_400(
        self, client: TestClient, world: World
    ) -> None:
        r = client.post(
            PRS,
            headers=world.bob_h,
            json={
                "title": "x",
                "source": {"branch": {"name": "feature"}},
                "reviewers": [{"uuid": world.eve.uuid}],
            },
        )
        assert r.status_code == 400
        assert "cannot see" in r.json()["error"]["message"]

    def test_opening_the_same_branches_again_updates_the_open_one(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        r = client.post(
            PRS,
            headers=world.bob_h,
            json={"title": "Better title", "source": {"branch": {"name": "feature"}}},
        )
        assert r.status_code == 200
        assert r.json()["id"] == 1 and r.json()["title"] == "Better title"
        assert len(_events(db, "pullrequest:created")) == 1
        assert len(_events(db, "pullrequest:updated")) == 1

    def test_an_outsider_gets_404_on_a_private_repository(
        self, client: TestClient, world: World
    ) -> None:
        r = client.post(
            PRS, headers=world.eve_h, json={"title": "x", "source": {"branch": {"name": "feature"}}}
        )
        assert r.status_code == 404
        assert client.get(PRS, headers=world.eve_h).status_code == 404

    def test_a_read_only_app_password_cannot_open(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        pw = make_app_password(db, world.bob, "pullrequest")
        r = client.post(
            PRS,
            headers=basic("bob", pw),
            json={"title": "x", "source": {"branch": {"name": "feature"}}},
        )
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "pullrequest:write"

    def test_anonymous_is_401(self, client: TestClient, world: World) -> None:
        r = client.post(PRS, json={"title": "x", "source": {"branch": {"name": "feature"}}})
        assert r.status_code == 401


class TestList:
    @pytest.fixture
    def three(self, db: Session, settings: Settings, world: World) -> World:
        """#1 open, #2 merged, #3 declined."""
        from appdock.pullrequest.service import PullRequestService

        for name in ("b1", "b2", "b3"):
            make_branch(settings, world.repo, name, {f"{name}.txt": name})
        for name in ("b1", "b2", "b3"):
            open_pr(db, settings, world.bob, world.repo, name, title=f"PR {name}")
        svc = PullRequestService(db, settings)
        svc.merge(subject_of(world.alice), svc.get(world.repo, 2))
        svc.decline(subject_of(world.bob), svc.get(world.repo, 3))
        db.commit()
        return world

    def test_default_is_open_only(self, client: TestClient, three: World) -> None:
        page = client.get(PRS + "/", headers=three.bob_h).json()
        assert [v["id"] for v in page["values"]] == [1]
        assert page["size"] == 1 and page["page"] == 1

    def test_state_is_repeatable(self, client: TestClient, three: World) -> None:
        page = client.get(PRS + "?state=MERGED&state=DECLINED", headers=three.bob_h).json()
        assert sorted(v["state"] for v in page["values"]) == ["DECLINED", "MERGED"]

    def test_q_state_as_atlassian_python_api_sends_it(
        self, client: TestClient, three: World
    ) -> None:
        r = client.get(PRS + "/", params={"q": 'state="MERGED"'}, headers=three.bob_h)
        assert [v["id"] for v in r.json()["values"]] == [2]

    def test_q_title_and_bad_fields(self, client: TestClient, three: World) -> None:
        r = client.get(PRS, params={"q": 'title ~ "b3"', "state": "DECLINED"}, headers=three.bob_h)
        assert [v["id"] for v in r.json()["values"]] == [3]
        bad = client.get(PRS, params={"q": 'colour = "red"'}, headers=three.bob_h)
        assert bad.status_code == 400 and "q" in bad.json()["error"]["fields"]
        assert client.get(PRS + "?state=NOPE", headers=three.bob_h).status_code == 400

    def test_pages_link_to_the_next_with_absolute_urls(
        self, client: TestClient, three: World
    ) -> None:
        page = client.get(
            PRS + "?state=OPEN&state=MERGED&state=DECLINED&pagelen=2", headers=three.bob_h
        ).json()
        assert page["size"] == 3 and len(page["values"]) == 2
        assert page["next"].startswith("http://testserver/api/2.0/repositories/acme/widget/")
        rest = client.get(page["next"], headers=three.bob_h).json()
        assert len(rest["values"]) == 1 and "next" not in rest


class TestGetAndUpdate:
    def test_get_and_put_title_publishes_updated(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        assert client.get(PRS + "/1", headers=world.alice_h).json()["title"] == "Add a feature"
        r = client.put(
            PRS + "/1", headers=world.bob_h, json={"title": "Renamed", "description": "d"}
        )
        assert r.status_code == 200
        assert r.json()["title"] == "Renamed" and r.json()["description"] == "d"
        (event,) = _events(db, "pullrequest:updated")
        assert event.payload["pullrequest"]["title"] == "Renamed"

    def test_unknown_id_is_404(self, client: TestClient, world: World) -> None:
        r = client.get(PRS + "/99", headers=world.bob_h)
        assert r.status_code == 404 and r.json()["type"] == "error"

    def test_a_reader_who_is_not_the_author_cannot_edit(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        RepoService(db, settings).update(subject_of(world.alice), world.repo, is_private=False)
        db.commit()
        _open(client, world)
        r = client.put(PRS + "/1", headers=world.eve_h, json={"title": "Hijacked"})
        assert r.status_code == 403


class TestReviews:
    def test_approve_then_unapprove(self, client: TestClient, db: Session, world: World) -> None:
        _open(client, world)
        r = client.post(PRS + "/1/approve", headers=world.alice_h, json={"approved": True})
        assert r.status_code == 200
        body = r.json()
        assert body["type"] == "participant" and body["approved"] is True
        assert body["state"] == "approved" and body["user"]["uuid"] == world.alice.uuid
        (approved,) = _events(db, "pullrequest:approved")
        assert approved.payload["approval"]["user"]["uuid"] == world.alice.uuid
        assert approved.payload["approval"]["date"]
        participants = approved.payload["pullrequest"]["participants"]
        assert participants[0]["approved"] is True
        assert client.delete(PRS + "/1/approve", headers=world.alice_h).status_code == 204
        (unapproved,) = _events(db, "pullrequest:unapproved")
        assert unapproved.payload["approval"]["user"]["uuid"] == world.alice.uuid
        pr = client.get(PRS + "/1", headers=world.alice_h).json()
        assert pr["participants"][0]["approved"] is False

    def test_approving_twice_publishes_once(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        client.post(PRS + "/1/approve", headers=world.alice_h)
        client.post(PRS + "/1/approve", headers=world.alice_h)
        assert len(_events(db, "pullrequest:approved")) == 1

    def test_request_changes_replaces_an_approval(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        client.post(PRS + "/1/approve", headers=world.alice_h)
        r = client.post(PRS + "/1/request-changes", headers=world.alice_h)
        assert r.status_code == 200 and r.json()["state"] == "changes_requested"
        assert r.json()["approved"] is False
        (created,) = _events(db, "pullrequest:changes_request_created")
        assert created.payload["changes_request"]["user"]["uuid"] == world.alice.uuid
        assert len(_events(db, "pullrequest:unapproved")) == 1
        assert client.delete(PRS + "/1/request-changes", headers=world.alice_h).status_code == 204
        assert len(_events(db, "pullrequest:changes_request_removed")) == 1

    def test_reviewing_a_declined_pull_request_is_400(
        self, client: TestClient, world: World
    ) -> None:
        _open(client, world)
        client.post(PRS + "/1/decline", headers=world.bob_h)
        r = client.post(PRS + "/1/approve", headers=world.alice_h)
        assert r.status_code == 400 and "DECLINED" in r.json()["error"]["message"]


class TestComments:
    def test_comment_crud_with_events(self, client: TestClient, db: Session, world: World) -> None:
        _open(client, world)
        r = client.post(
            PRS + "/1/comments", headers=world.alice_h, json={"content": {"raw": "Looks **good**"}}
        )
        assert r.status_code == 201
        comment = r.json()
        assert comment["type"] == "pullrequest_comment"
        assert comment["content"]["raw"] == "Looks **good**"
        assert comment["content"]["html"] == "<p>Looks <strong>good</strong></p>\n"
        assert comment["content"]["markup"] == "markdown"
        assert comment["user"]["uuid"] == world.alice.uuid
        assert comment["pullrequest"]["id"] == 1
        cid = comment["id"]
        (created,) = _events(db, "pullrequest:comment_created")
        assert set(created.payload) == {"actor", "pullrequest", "repository", "comment"}
        assert created.payload["comment"]["id"] == cid
        assert created.payload["pullrequest"]["comment_count"] == 1
        page = client.get(PRS + "/1/comments", headers=world.bob_h).json()
        assert [c["id"] for c in page["values"]] == [cid]
        r = client.put(
            PRS + f"/1/comments/{cid}", headers=world.alice_h, json={"content": {"raw": "edited"}}
        )
        assert r.status_code == 200 and r.json()["content"]["raw"] == "edited"
        assert len(_events(db, "pullrequest:comment_updated")) == 1
        assert client.delete(PRS + f"/1/comments/{cid}", headers=world.alice_h).status_code == 204
        (deleted,) = _events(db, "pullrequest:comment_deleted")
        assert deleted.payload["comment"]["deleted"] is True
        assert client.get(PRS + f"/1/comments/{cid}", headers=world.alice_h).status_code == 404
        assert client.get(PRS + "/1", headers=world.alice_h).json()["comment_count"] == 0

    def test_only_the_author_edits_a_comment(self, client: TestClient, world: World) -> None:
        _open(client, world)
        cid = client.post(
            PRS + "/1/comments", headers=world.bob_h, json={"content": {"raw": "mine"}}
        ).json()["id"]
        r = client.put(
            PRS + f"/1/comments/{cid}", headers=world.alice_h, json={"content": {"raw": "x"}}
        )
        assert r.status_code == 403
        # ...but a repository admin may delete it.
        assert client.delete(PRS + f"/1/comments/{cid}", headers=world.alice_h).status_code == 204

    def test_inline_comment_on_a_changed_file(self, client: TestClient, world: World) -> None:
        _open(client, world)
        r = client.post(
            PRS + "/1/comments",
            headers=world.alice_h,
            json={"content": {"raw": "typo"}, "inline": {"path": "feature.txt", "to": 1}},
        )
        assert r.status_code == 201
        assert r.json()["inline"] == {"path": "feature.txt", "from": None, "to": 1}
        bad = client.post(
            PRS + "/1/comments",
            headers=world.alice_h,
            json={"content": {"raw": "?"}, "inline": {"path": "README.md", "to": 1}},
        )
        assert bad.status_code == 400 and "inline.path" in bad.json()["error"]["fields"]

    def test_replies_name_their_parent(self, client: TestClient, world: World) -> None:
        _open(client, world)
        parent = client.post(
            PRS + "/1/comments", headers=world.bob_h, json={"content": {"raw": "q"}}
        ).json()
        r = client.post(
            PRS + "/1/comments",
            headers=world.alice_h,
            json={"content": {"raw": "a"}, "parent": {"id": parent["id"]}},
        )
        assert r.json()["parent"]["id"] == parent["id"]
        bad = client.post(
            PRS + "/1/comments",
            headers=world.alice_h,
            json={"content": {"raw": "a"}, "parent": {"id": 999}},
        )
        assert bad.status_code == 400

    def test_empty_comment_is_400(self, client: TestClient, world: World) -> None:
        _open(client, world)
        r = client.post(PRS + "/1/comments", headers=world.alice_h, json={"content": {"raw": "  "}})
        assert r.status_code == 400 and "content.raw" in r.json()["error"]["fields"]

    def test_commenting_needs_only_the_pullrequest_scope(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        pw = make_app_password(db, world.alice, "pullrequest")
        r = client.post(
            PRS + "/1/comments", headers=basic("alice", pw), json={"content": {"raw": "hi"}}
        )
        assert r.status_code == 201
        repo_only = make_app_password(db, world.alice, "repository")
        r = client.post(
            PRS + "/1/comments", headers=basic("alice", repo_only), json={"content": {"raw": "hi"}}
        )
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "pullrequest"

    def test_a_commenter_becomes_a_participant(self, client: TestClient, world: World) -> None:
        _open(client, world)
        client.post(PRS + "/1/comments", headers=world.alice_h, json={"content": {"raw": "hi"}})
        (p,) = client.get(PRS + "/1", headers=world.alice_h).json()["participants"]
        assert p["role"] == "PARTICIPANT" and p["user"]["uuid"] == world.alice.uuid
        assert p["participated_on"]


class TestMerge:
    def test_merge_commit_has_both_parents_and_publishes_push_then_fulfilled(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        write_commit(settings, world.repo, {"other.txt": "o\n"}, message="Main moves on")
        pr = _open(client, world)
        main_before = world.git.resolve("main")
        feature = world.git.resolve("feature")
        r = client.post(
            PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "merge_commit"}
        )
        assert r.status_code == 200, r.text
        merged = r.json()
        assert merged["state"] == "MERGED"
        assert merged["closed_by"]["uuid"] == world.alice.uuid
        head = world.git.resolve("main")
        assert merged["merge_commit"]["hash"] == head
        commit = world.git.commit(head or "")
        assert commit.parents == (main_before, feature)
        assert commit.message.startswith("Merged in feature (pull request #1)")
        assert commit.committer.email == "alice@example.test"
        files = {e.path for e in world.git.tree(head or "")}
        assert {"feature.txt", "other.txt", "README.md", "app.py"} <= files
        (fulfilled,) = _events(db, "pullrequest:fulfilled")
        assert fulfilled.payload["pullrequest"]["state"] == "MERGED"
        assert fulfilled.payload["pullrequest"]["merge_commit"]["hash"] == head
        assert set(fulfilled.payload["pullrequest"]) >= PR_KEYS
        (push,) = _events(db, "repo:push")
        (change,) = push.payload["push"]["changes"]
        assert change["old"]["target"]["hash"] == main_before
        assert change["new"]["target"]["hash"] == head
        assert push.id < fulfilled.id
        assert world.git.resolve("feature") == feature  # kept: close_source_branch was off
        assert pr["source"]["commit"]["hash"] == feature
        assert list(spool_dir(settings).glob("*.json")) == []

    def test_squash_makes_one_commit_by_the_pr_author(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        write_commit(settings, world.repo, {"more.txt": "m\n"}, branch="feature", message="More")
        _open(client, world)
        main_before = world.git.resolve("main")
        r = client.post(PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "squash"})
        assert r.status_code == 200, r.text
        head = world.git.resolve("main") or ""
        commit = world.git.commit(head)
        assert commit.parents == (main_before,)
        assert commit.author.email == "bob@example.test"
        assert commit.committer.email == "alice@example.test"
        assert commit.message.startswith("Add a feature (pull request #1)")
        assert "* More" in commit.message and "* Add feature" in commit.message
        assert world.git.text("rev-parse", f"{head}^{{tree}}") == world.git.text(
            "rev-parse", "feature^{tree}"
        )
        assert not world.git.is_ancestor(world.git.resolve("feature") or "", head)

    def test_fast_forward_moves_main_to_the_source_tip(
        self, client: TestClient, world: World
    ) -> None:
        _open(client, world)
        r = client.post(
            PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "fast_forward"}
        )
        assert r.status_code == 200
        assert world.git.resolve("main") == world.git.resolve("feature")
        assert r.json()["merge_commit"]["hash"] == world.git.resolve("feature")

    def test_fast_forward_when_main_moved_is_409_and_changes_nothing(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        _open(client, world)
        write_commit(settings, world.repo, {"other.txt": "o\n"}, message="Main moves on")
        before = _refs(world.git)
        r = client.post(
            PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "fast_forward"}
        )
        assert r.status_code == 409
        assert "fast-forward" in r.json()["error"]["message"]
        assert _refs(world.git) == before
        assert client.get(PRS + "/1", headers=world.alice_h).json()["state"] == "OPEN"

    def test_close_source_branch_deletes_it_in_the_same_push(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        r = client.post(PRS + "/1/merge", headers=world.alice_h, json={"close_source_branch": True})
        assert r.status_code == 200 and r.json()["close_source_branch"] is True
        assert world.git.branch("feature") is None
        (push,) = _events(db, "repo:push")
        closed = [c for c in push.payload["push"]["changes"] if c["closed"]]
        assert [c["old"]["name"] for c in closed] == ["feature"]
        # the pull request still shows its commits and diff without the branch
        assert client.get(PRS + "/1/diffstat", headers=world.alice_h).json()["size"] == 1

    def test_null_strategy_as_atlassian_python_api_sends_it_is_the_default(
        self, client: TestClient, world: World
    ) -> None:
        _open(client, world)
        r = client.post(
            PRS + "/1/merge",
            headers=world.alice_h,
            json={"close_source_branch": None, "merge_strategy": None},
        )
        assert r.status_code == 200
        assert len(world.git.commit("main").parents) == 2

    def test_an_empty_body_merges_too(self, client: TestClient, world: World) -> None:
        _open(client, world)
        assert client.post(PRS + "/1/merge", headers=world.alice_h).status_code == 200

    def test_unknown_strategy_is_400(self, client: TestClient, world: World) -> None:
        _open(client, world)
        r = client.post(PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "octopus"})
        assert r.status_code == 400 and "merge_strategy" in r.json()["error"]["fields"]

    def test_conflicts_are_409_and_nothing_changes_on_disk(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        _conflicting_change(settings, world)
        _open(client, world)
        refs = _refs(world.git)
        objects = world.git.text("count-objects", "-v")
        r = client.post(
            PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "merge_commit"}
        )
        assert r.status_code == 409
        error = r.json()["error"]
        assert "conflicts in app.py" in error["message"]
        assert error["data"]["conflicts"] == ["app.py"]
        assert _refs(world.git) == refs
        assert world.git.text("count-objects", "-v") == objects
        worktrees = world.git.text("worktree", "list").strip().splitlines()
        assert len(worktrees) == 1 and "(bare)" in worktrees[0]
        assert client.get(PRS + "/1", headers=world.alice_h).json()["state"] == "OPEN"
        assert _events(db, "pullrequest:fulfilled") == [] and _events(db, "repo:push") == []

    def test_squash_with_conflicts_is_409_too(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        _conflicting_change(settings, world)
        _open(client, world)
        r = client.post(PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "squash"})
        assert r.status_code == 409

    def test_a_push_racing_the_merge_is_409_and_the_push_wins(
        self,
        client: TestClient,
        db: Session,
        settings: Settings,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Someone pushes to main between reading it and moving it: the compare-and-swap fails."""
        import appdock.pullrequest.service as service

        _open(client, world)
        real = service.commit_tree
        raced: list[str] = []

        def commit_then_push(*args: Any, **kwargs: Any) -> str:
            made = real(*args, **kwargs)
            raced.append(write_commit(settings, world.repo, {"race.txt": "r\n"}, message="race"))
            return made

        monkeypatch.setattr(service, "commit_tree", commit_then_push)
        r = client.post(
            PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "merge_commit"}
        )
        assert r.status_code == 409
        assert "moved" in r.json()["error"]["message"]
        assert world.git.resolve("main") == raced[0]
        assert client.get(PRS + "/1", headers=world.alice_h).json()["state"] == "OPEN"
        assert _events(db, "pullrequest:fulfilled") == [] and _events(db, "repo:push") == []
        assert list(spool_dir(settings).glob("*.json")) == []

    def test_merging_twice_is_400(self, client: TestClient, world: World) -> None:
        _open(client, world)
        assert client.post(PRS + "/1/merge", headers=world.alice_h).status_code == 200
        r = client.post(PRS + "/1/merge", headers=world.alice_h)
        assert r.status_code == 400 and "MERGED" in r.json()["error"]["message"]

    def test_a_reader_cannot_merge(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        RepoService(db, settings).update(subject_of(world.alice), world.repo, is_private=False)
        db.commit()
        _open(client, world)
        r = client.post(PRS + "/1/merge", headers=world.eve_h)
        assert r.status_code == 403
        assert world.git.resolve("main") != world.git.resolve("feature")

    def test_an_outsider_cannot_see_it_to_merge(self, client: TestClient, world: World) -> None:
        _open(client, world)
        assert client.post(PRS + "/1/merge", headers=world.eve_h).status_code == 404

    def test_a_read_scope_cannot_merge(self, client: TestClient, db: Session, world: World) -> None:
        _open(client, world)
        pw = make_app_password(db, world.alice, "pullrequest repository:write")
        r = client.post(PRS + "/1/merge", headers=basic("alice", pw))
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "pullrequest:write"

    def test_merging_marks_other_pull_requests_with_the_same_commits_merged(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        tip = world.git.resolve("feature") or ""
        world.git.update_ref("refs/heads/copy", tip)
        _open(client, world)
        make_branch(settings, world.repo, "unrelated", {"u.txt": "u\n"})
        _open(client, world, "copy")
        _open(client, world, "unrelated")
        client.post(
            PRS + "/1/merge", headers=world.alice_h, json={"merge_strategy": "fast_forward"}
        )
        states = {
            v["id"]: v["state"]
            for v in client.get(PRS + "?state=OPEN&state=MERGED", headers=world.alice_h).json()[
                "values"
            ]
        }
        assert states == {1: "MERGED", 2: "MERGED", 3: "OPEN"}
        assert len(_events(db, "pullrequest:fulfilled")) == 2


class TestDecline:
    def test_decline_publishes_rejected(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        _open(client, world)
        r = client.post(PRS + "/1/decline", headers=world.bob_h, json={"id": 1})
        assert r.status_code == 200 and r.json()["state"] == "DECLINED"
        assert r.json()["closed_by"]["uuid"] == world.bob.uuid
        (event,) = _events(db, "pullrequest:rejected")
        assert event.payload["pullrequest"]["state"] == "DECLINED"
        assert world.git.resolve("feature")  # the branch stays

    def test_a_reader_cannot_decline_someone_elses(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        RepoService(db, settings).update(subject_of(world.alice), world.repo, is_private=False)
        db.commit()
        _open(client, world)
        assert client.post(PRS + "/1/decline", headers=world.eve_h).status_code == 403


class TestGitViews:
    def test_commits_diff_diffstat_patch(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        write_commit(
            settings,
            world.repo,
            {"feature.txt": "a feature\n<b>bold</b>\n"},
            branch="feature",
            message="Second",
        )
        _open(client, world)
        commits = client.get(PRS + "/1/commits", headers=world.alice_h).json()
        assert [c["message"].strip() for c in commits["values"]] == ["Second", "Add feature"]
        assert commits["values"][0]["type"] == "commit"
        diff = client.get(PRS + "/1/diff", headers=world.alice_h)
        assert diff.headers["content-type"].startswith("text/plain")
        assert "+<b>bold</b>" in diff.text and "diff --git a/feature.txt b/feature.txt" in diff.text
        stat = client.get(PRS + "/1/diffstat", headers=world.alice_h).json()
        (entry,) = stat["values"]
        assert entry["type"] == "diffstat" and entry["status"] == "added"
        assert entry["new"]["path"] == "feature.txt" and entry["lines_added"] == 2
        patch = client.get(PRS + "/1/patch", headers=world.alice_h).text
        assert patch.count("Subject: [PATCH") == 2

    def test_diff_path_filter_and_a_path_escaping_the_repository(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        write_commit(settings, world.repo, {"x.txt": "x\n"}, branch="feature", message="x")
        _open(client, world)
        only = client.get(PRS + "/1/diff?path=x.txt", headers=world.alice_h).text
        assert "x.txt" in only and "feature.txt" not in only
        bad = client.get(PRS + "/1/diff?path=../etc/passwd", headers=world.alice_h)
        assert bad.status_code == 400 and "path" in bad.json()["error"]["fields"]

    def test_the_diff_is_against_the_merge_base(
        self, client: TestClient, settings: Settings, world: World
    ) -> None:
        write_commit(settings, world.repo, {"other.txt": "o\n"}, message="Main moves on")
        _open(client, world)
        stat = client.get(PRS + "/1/diffstat", headers=world.alice_h).json()
        assert [v["new"]["path"] for v in stat["values"]] == ["feature.txt"]

    def test_statuses_are_those_of_the_source_commit(
        self, client: TestClient, db: Session, settings: Settings, world: World
    ) -> None:
        pr = _open(client, world)
        svc = RepoService(db, settings)
        svc.set_status(
            subject_of(world.alice),
            world.repo,
            pr["source"]["commit"]["hash"],
            key="ci",
            state="SUCCESSFUL",
            url="https://ci.example.test/1",
        )
        svc.set_status(
            subject_of(world.alice),
            world.repo,
            "main",
            key="ci-main",
            state="FAILED",
            url="https://x",
        )
        db.commit()
        page = client.get(PRS + "/1/statuses", headers=world.alice_h).json()
        assert [(s["type"], s["key"], s["state"]) for s in page["values"]] == [
            ("build", "ci", "SUCCESSFUL")
        ]

    def test_activity_lists_comments_approvals_and_the_opening(
        self, client: TestClient, world: World
    ) -> None:
        _open(client, world)
        client.post(PRS + "/1/comments", headers=world.alice_h, json={"content": {"raw": "hi"}})
        client.post(PRS + "/1/approve", headers=world.alice_h)
        values = client.get(PRS + "/1/activity", headers=world.alice_h).json()["values"]
        kinds = [next(k for k in v if k != "pull_request") for v in values]
        assert kinds == ["approval", "comment", "update"]
        assert values[-1]["update"]["state"] == "OPEN"
        assert all(v["pull_request"]["id"] == 1 for v in values)


class TestTasks:
    def test_tasks_count_until_resolved(self, client: TestClient, world: World) -> None:
        _open(client, world)
        r = client.post(
            PRS + "/1/tasks", headers=world.alice_h, json={"content": {"raw": "Add docs"}}
        )
        assert r.status_code == 201
        task = r.json()
        assert task["state"] == "UNRESOLVED" and task["content"]["raw"] == "Add docs"
        assert task["creator"]["uuid"] == world.alice.uuid
        assert client.get(PRS + "/1", headers=world.alice_h).json()["task_count"] == 1
        r = client.put(
            PRS + f"/1/tasks/{task['id']}", headers=world.bob_h, json={"state": "RESOLVED"}
        )
        assert r.json()["state"] == "RESOLVED" and r.json()["resolved_by"]["uuid"] == world.bob.uuid
        assert client.get(PRS + "/1", headers=world.alice_h).json()["task_count"] == 0
        assert [
            t["id"] for t in client.get(PRS + "/1/tasks", headers=world.alice_h).json()["values"]
        ] == [task["id"]]
        assert (
            client.delete(PRS + f"/1/tasks/{task['id']}", headers=world.alice_h).status_code == 204
        )
        assert client.get(PRS + f"/1/tasks/{task['id']}", headers=world.alice_h).status_code == 404
