"""REST 2.0 repository endpoints with TestClient, on every database backend."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Event, User
from tests.factories.account import basic, make_app_password, make_team, make_user
from tests.factories.repo import commit_files, make_repo, seed_history

API = "/api/2.0"
ALL = "account repository:admin repository:write repository:delete"


def auth(db: Session, username: str = "alice", scopes: str = ALL) -> dict[str, str]:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None
    return basic(username, make_app_password(db, user, scopes))


@pytest.fixture
def alice(db: Session) -> dict[str, str]:
    make_user(db, "alice")
    return auth(db)


class TestCreateRepository:
    def test_bitbucket_body_creates_repository_with_links(
        self, client: TestClient, db: Session, alice: dict[str, str]
    ) -> None:
        r = client.post(
            f"{API}/repositories/alice/widget",
            headers=alice,
            json={
                "scm": "git",
                "is_private": True,
                "description": "A widget",
                "project": {"key": "PROJ"},
                "fork_policy": "no_public_forks",
                "name": "Widget",
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["type"] == "repository" and body["full_name"] == "alice/widget"
        assert body["name"] == "Widget" and body["slug"] == "widget"
        assert body["uuid"].startswith("{") and body["is_private"] is True
        assert body["project"]["key"] == "PROJ" and body["fork_policy"] == "no_public_forks"
        assert body["owner"]["type"] == "user" and body["mainbranch"] is None
        links = body["links"]
        assert links["clone"] == [{"name": "https", "href": "http://testserver/alice/widget.git"}]
        for name in (
            "self",
            "html",
            "avatar",
            "commits",
            "pullrequests",
            "hooks",
            "source",
            "branches",
            "tags",
            "forks",
        ):
            assert links[name]["href"].startswith("http://testserver/"), name
        assert links["self"]["href"] == "http://testserver/api/2.0/repositories/alice/widget"

    def test_team_workspace_owner_is_a_team(
        self, client: TestClient, db: Session, alice: dict[str, str]
    ) -> None:
        owner = db.scalar(select(User).where(User.username == "alice"))
        assert owner is not None
        make_team(db, "acme", owner)
        r = client.post(f"{API}/repositories/acme/widget", headers=alice, json={"scm": "git"})
        assert r.status_code == 201 and r.json()["owner"]["type"] == "team"

    def test_invalid_slug_is_400_naming_it(self, client: TestClient, alice: dict[str, str]) -> None:
        r = client.post(f"{API}/repositories/alice/Bad%20Slug!", headers=alice, json={})
        assert r.status_code == 400
        assert r.json()["error"]["fields"] == {"slug": [r.json()["error"]["message"]]}
        assert "Bad Slug!" in r.json()["error"]["message"]

    def test_duplicate_slug_is_400(self, client: TestClient, alice: dict[str, str]) -> None:
        assert client.post(f"{API}/repositories/alice/w", headers=alice, json={}).status_code == 201
        r = client.post(f"{API}/repositories/alice/w", headers=alice, json={})
        assert r.status_code == 400 and "already exists" in r.json()["error"]["message"]

    def test_mercurial_is_400_naming_scm(self, client: TestClient, alice: dict[str, str]) -> None:
        r = client.post(f"{API}/repositories/alice/w", headers=alice, json={"scm": "hg"})
        assert r.status_code == 400 and "scm" in r.json()["error"]["fields"]

    def test_unknown_project_is_400(self, client: TestClient, alice: dict[str, str]) -> None:
        r = client.post(
            f"{API}/repositories/alice/w", headers=alice, json={"project": {"key": "NO"}}
        )
        assert r.status_code == 400 and "project.key" in r.json()["error"]["fields"]

    def test_needs_admin_scope_and_credentials(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        assert client.post(f"{API}/repositories/alice/w", json={}).status_code == 401
        r = client.post(
            f"{API}/repositories/alice/w", headers=auth(db, scopes="repository:write"), json={}
        )
        assert r.status_code == 403
        assert r.json()["error"]["data"]["required_scope"] == "repository:admin"

    def test_outsider_cannot_create_in_someone_elses_workspace(
        self, client: TestClient, db: Session, alice: dict[str, str]
    ) -> None:
        make_user(db, "bob")
        r = client.post(f"{API}/repositories/bob/w", headers=alice, json={})
        assert r.status_code == 404


class TestGetRepository:
    def test_public_repository_is_readable_anonymously(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice, private=False)
        r = client.get(f"{API}/repositories/alice/widget")
        assert r.status_code == 200 and r.json()["uuid"] == ctx.repo.uuid
        assert client.get(f"{API}/repositories/alice/{ctx.repo.uuid}").json()["slug"] == "widget"

    def test_private_repository_is_404_to_anonymous_and_outsiders(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        make_user(db, "mal")
        make_repo(db, settings, alice)
        assert client.get(f"{API}/repositories/alice/widget").status_code == 404
        r = client.get(f"{API}/repositories/alice/widget", headers=auth(db, "mal"))
        assert r.status_code == 404 and r.json()["type"] == "error"
        assert client.get(f"{API}/repositories/alice/widget", headers=auth(db)).status_code == 200

    def test_missing_repository_is_404(self, client: TestClient, alice: dict[str, str]) -> None:
        assert client.get(f"{API}/repositories/alice/nope", headers=alice).status_code == 404
        assert client.get(f"{API}/repositories/nobody/nope", headers=alice).status_code == 404


class TestListRepositories:
    @pytest.fixture
    def world(self, db: Session, settings: Settings) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        make_user(db, "mal")
        acme = make_team(db, "acme", alice, bob)
        make_repo(db, settings, alice, "secret", workspace=acme)
        make_repo(db, settings, alice, "open-widget", workspace=acme, private=False)
        make_repo(db, settings, alice, "mine")

    def test_anonymous_sees_public_only(self, client: TestClient, world: None) -> None:
        page = client.get(f"{API}/repositories").json()
        assert [v["full_name"] for v in page["values"]] == ["acme/open-widget"]

    def test_member_sees_team_private_repositories(
        self, client: TestClient, db: Session, world: None
    ) -> None:
        names = {
            v["full_name"]
            for v in client.get(f"{API}/repositories/", headers=auth(db, "bob")).json()["values"]
        }
        assert names == {"acme/open-widget", "acme/secret"}

    def test_role_member_drops_foreign_public_repositories(
        self, client: TestClient, db: Session, world: None
    ) -> None:
        r = client.get(f"{API}/repositories?role=member", headers=auth(db, "mal"))
        assert r.json()["values"] == []
        assert client.get(f"{API}/repositories?role=member").status_code == 401
        assert (
            client.get(f"{API}/repositories?role=boss", headers=auth(db, "mal")).status_code == 400
        )

    def test_q_filters_on_name(self, client: TestClient, db: Session, world: None) -> None:
        r = client.get(
            f"{API}/repositories", params={"q": 'name ~ "WIDG"'}, headers=auth(db, "bob")
        )
        assert [v["slug"] for v in r.json()["values"]] == ["open-widget"]
        r = client.get(
            f"{API}/repositories",
            params={"q": 'project.key = "PROJ" AND is_private = true'},
            headers=auth(db, "bob"),
        )
        assert [v["slug"] for v in r.json()["values"]] == ["secret"]

    def test_bad_q_is_400_naming_q(self, client: TestClient, world: None) -> None:
        r = client.get(f"{API}/repositories", params={"q": "owner = 1"})
        assert r.status_code == 400 and "q" in r.json()["error"]["fields"]

    def test_workspace_listing_and_paging(
        self, client: TestClient, db: Session, world: None
    ) -> None:
        page = client.get(f"{API}/repositories/acme?pagelen=1", headers=auth(db, "bob")).json()
        assert page["size"] == 2 and len(page["values"]) == 1
        assert page["next"].startswith("http://testserver/api/2.0/repositories/acme?")
        # a private workspace with only private repositories is hidden from outsiders
        assert client.get(f"{API}/repositories/alice", headers=auth(db, "mal")).status_code == 404
        assert client.get(f"{API}/repositories/acme").json()["size"] == 1


class TestUpdateAndDelete:
    def test_put_updates_fields_and_renames(
        self, client: TestClient, db: Session, settings: Settings, alice: dict[str, str]
    ) -> None:
        client.post(f"{API}/repositories/alice/widget", headers=alice, json={})
        r = client.put(
            f"{API}/repositories/alice/widget",
            headers=alice,
            json={"description": "new", "slug": "gadget", "is_private": False},
        )
        assert r.status_code == 200, r.text
        assert r.json()["full_name"] == "alice/gadget" and r.json()["description"] == "new"
        assert client.get(f"{API}/repositories/alice/gadget").status_code == 200  # now public
        assert client.get(f"{API}/repositories/alice/widget", headers=alice).status_code == 404

    def test_put_on_missing_repository_creates_it(
        self, client: TestClient, alice: dict[str, str]
    ) -> None:
        r = client.put(f"{API}/repositories/alice/fresh", headers=alice, json={"is_private": True})
        assert r.status_code == 201 and r.json()["slug"] == "fresh"

    def test_delete_needs_delete_scope_then_removes(
        self, client: TestClient, db: Session, settings: Settings, alice: dict[str, str]
    ) -> None:
        client.post(f"{API}/repositories/alice/widget", headers=alice, json={})
        weak = auth(db, scopes="repository:admin repository:write")
        r = client.delete(f"{API}/repositories/alice/widget", headers=weak)
        assert r.status_code == 403 and "repository:delete" in r.json()["error"]["message"]
        assert client.delete(f"{API}/repositories/alice/widget", headers=alice).status_code == 204
        assert client.get(f"{API}/repositories/alice/widget", headers=alice).status_code == 404
        assert not any(settings.repos_dir.iterdir())
        keys = [e.key for e in db.scalars(select(Event).order_by(Event.id))]
        assert keys == ["repo:created", "repo:deleted"]


@pytest.fixture
def history(db: Session, settings: Settings) -> dict[str, Any]:
    alice = make_user(db, "alice")
    ctx = make_repo(db, settings, alice)
    hashes = seed_history(db, settings, ctx, count=4)
    feature = commit_files(
        settings,
        ctx.repo,
        {
            "docs/guide.md": "# Guide\n",
            "page.html": "<script>alert(1)</script>",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
        },
        branch="feature/readme",
        parent=hashes[-1],
        message="Docs",
    )
    return {"ctx": ctx, "hashes": hashes, "feature": feature, "headers": auth(db)}


class TestRefs:
    def test_branches_list_and_get_with_slash(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        h = history["headers"]
        page = client.get(f"{API}/repositories/alice/widget/refs/branches/", headers=h).json()
        assert [b["name"] for b in page["values"]] == ["feature/readme", "main"]
        main = page["values"][1]
        assert main["type"] == "branch" and main["target"]["hash"] == history["hashes"][-1]
        assert main["target"]["author"]["user"]["username"] == "alice"
        assert "merge_commit" in main["merge_strategies"]
        r = client.get(f"{API}/repositories/alice/widget/refs/branches/feature/readme", headers=h)
        assert r.status_code == 200 and r.json()["target"]["hash"] == history["feature"]
        assert r.json()["links"]["self"]["href"].endswith("/refs/branches/feature/readme")

    def test_branch_filters(self, client: TestClient, history: dict[str, Any]) -> None:
        h = history["headers"]
        r = client.get(
            f"{API}/repositories/alice/widget/refs/branches",
            params={"q": 'name ~ "feat"', "sort": "-name"},
            headers=h,
        )
        assert [b["name"] for b in r.json()["values"]] == ["feature/readme"]

    def test_create_and_delete_branch(
        self, client: TestClient, db: Session, history: dict[str, Any]
    ) -> None:
        h = history["headers"]
        url = f"{API}/repositories/alice/widget/refs/branches"
        r = client.post(url, headers=h, json={"name": "release/1", "target": {"hash": "main"}})
        assert r.status_code == 201 and r.json()["target"]["hash"] == history["hashes"][-1]
        r = client.post(url, headers=h, json={"name": "bad name", "target": {"hash": "main"}})
        assert r.status_code == 400 and "bad name" in r.json()["error"]["message"]
        assert client.delete(f"{url}/release/1", headers=h).status_code == 204
        assert client.get(f"{url}/release/1", headers=h).status_code == 404
        assert client.delete(f"{url}/main", headers=h).status_code == 400
        pushes = list(db.scalars(select(Event).where(Event.key == "repo:push")))
        assert len(pushes) == 2

    def test_tags(self, client: TestClient, history: dict[str, Any]) -> None:
        h = history["headers"]
        url = f"{API}/repositories/alice/widget/refs/tags"
        r = client.post(
            url,
            headers=h,
            json={"name": "v1.0", "target": {"hash": history["hashes"][0]}, "message": "First"},
        )
        assert r.status_code == 201 and r.json()["type"] == "tag"
        assert r.json()["target"]["hash"] == history["hashes"][0] and "First" in r.json()["message"]
        assert [t["name"] for t in client.get(url + "/", headers=h).json()["values"]] == ["v1.0"]
        refs = client.get(f"{API}/repositories/alice/widget/refs", headers=h).json()
        assert {v["type"] for v in refs["values"]} == {"branch", "tag"}
        assert client.delete(f"{url}/v1.0", headers=h).status_code == 204
        assert client.get(f"{url}/v1.0", headers=h).status_code == 404

    def test_writing_refs_needs_write_access(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        make_user(db, "mal")
        ctx = make_repo(db, settings, alice, private=False)
        seed_history(db, settings, ctx)
        r = client.post(
            f"{API}/repositories/alice/widget/refs/branches",
            headers=auth(db, "mal"),
            json={"name": "x", "target": {"hash": "main"}},
        )
        assert r.status_code == 403 and "read access" in r.json()["error"]["message"]


class TestCommits:
    def test_paged_newest_first_with_absolute_next(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        h = history["headers"]
        page = client.get(
            f"{API}/repositories/alice/widget/commits/main?pagelen=2", headers=h
        ).json()
        assert [c["hash"] for c in page["values"]] == history["hashes"][::-1][:2]
        assert page["size"] == 4
        nxt = client.get(page["next"].removeprefix("http://testserver"), headers=h).json()
        assert [c["hash"] for c in nxt["values"]] == history["hashes"][::-1][2:]
        commit = page["values"][0]
        assert commit["type"] == "commit" and commit["parents"][0]["hash"] == history["hashes"][-2]
        assert commit["repository"]["full_name"] == "alice/widget"
        assert commit["links"]["html"]["href"].endswith(f"/alice/widget/commits/{commit['hash']}")

    def test_all_branches_and_include_exclude(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        h = history["headers"]
        base = f"{API}/repositories/alice/widget/commits"
        assert client.get(base, headers=h).json()["size"] == 5
        r = client.get(base, params={"include": "feature/readme", "exclude": "main"}, headers=h)
        assert [c["hash"] for c in r.json()["values"]] == [history["feature"]]
        r = client.get(base, params={"path": "src/app.py"}, headers=h)
        assert r.json()["size"] == 3

    def test_unknown_revision_is_404(self, client: TestClient, history: dict[str, Any]) -> None:
        h = history["headers"]
        assert (
            client.get(f"{API}/repositories/alice/widget/commits/nope", headers=h).status_code
            == 404
        )
        assert (
            client.get(f"{API}/repositories/alice/widget/commit/{'f' * 40}", headers=h).status_code
            == 404
        )

    def test_single_commit(self, client: TestClient, history: dict[str, Any]) -> None:
        first = history["hashes"][0]
        r = client.get(
            f"{API}/repositories/alice/widget/commit/{first[:8]}", headers=history["headers"]
        )
        assert r.status_code == 200 and r.json()["hash"] == first
        assert r.json()["message"].startswith("Add README") and r.json()["parents"] == []

    def test_empty_repository_has_no_commits(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        make_repo(db, settings, alice, private=False)
        page = client.get(f"{API}/repositories/alice/widget/commits").json()
        assert page["values"] == [] and page["size"] == 0


class TestSource:
    def test_src_redirects_to_the_main_branch_root(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        r = client.get(
            f"{API}/repositories/alice/widget/src",
            headers=history["headers"],
            follow_redirects=False,
        )
        assert r.status_code == 302
        assert r.headers["location"].endswith(f"/src/{history['hashes'][-1]}/")

    def test_directory_listing(self, client: TestClient, history: dict[str, Any]) -> None:
        h = history["headers"]
        page = client.get(f"{API}/repositories/alice/widget/src/main/", headers=h).json()
        items = {v["path"]: v["type"] for v in page["values"]}
        assert items == {"src": "commit_directory", "README.md": "commit_file"}
        readme = next(v for v in page["values"] if v["path"] == "README.md")
        assert readme["commit"]["hash"] == history["hashes"][-1] and readme["size"] == 20
        sub = client.get(f"{API}/repositories/alice/widget/src/main/src", headers=h).json()
        assert [v["path"] for v in sub["values"]] == ["src/app.py"]

    def test_raw_file_bytes(self, client: TestClient, history: dict[str, Any]) -> None:
        first = history["hashes"][0]
        r = client.get(
            f"{API}/repositories/alice/widget/src/{first}/README.md", headers=history["headers"]
        )
        assert r.status_code == 200 and r.text == "# Widget\n\nA widget.\n"
        assert r.headers["content-type"].startswith("text/plain")

    def test_ref_with_slash_resolves(self, client: TestClient, history: dict[str, Any]) -> None:
        r = client.get(
            f"{API}/repositories/alice/widget/src/feature/readme/docs/guide.md",
            headers=history["headers"],
        )
        assert r.status_code == 200 and r.text == "# Guide\n"

    def test_html_is_served_as_text_and_binary_as_its_type(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        h = history["headers"]
        r = client.get(f"{API}/repositories/alice/widget/src/feature/readme/page.html", headers=h)
        assert r.headers["content-type"].startswith("text/plain")
        assert "sandbox" in r.headers["content-security-policy"]
        r = client.get(f"{API}/repositories/alice/widget/src/feature/readme/logo.png", headers=h)
        assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")

    def test_format_meta(self, client: TestClient, history: dict[str, Any]) -> None:
        r = client.get(
            f"{API}/repositories/alice/widget/src/main/README.md?format=meta",
            headers=history["headers"],
        )
        assert r.json()["type"] == "commit_file" and r.json()["path"] == "README.md"
        assert r.json()["mimetype"] == "text/markdown"

    def test_missing_path_and_revision_are_404(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        h = history["headers"]
        assert (
            client.get(f"{API}/repositories/alice/widget/src/main/nope", headers=h).status_code
            == 404
        )
        assert (
            client.get(f"{API}/repositories/alice/widget/src/zzz/README.md", headers=h).status_code
            == 404
        )


class TestDiffs:
    def test_single_commit_diff_against_parent(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        last = history["hashes"][-1]
        r = client.get(f"{API}/repositories/alice/widget/diff/{last}", headers=history["headers"])
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert "diff --git a/src/app.py b/src/app.py" in r.text
        assert "-print(2)" in r.text and "+print(3)" in r.text

    def test_range_is_source_against_merge_base(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        r = client.get(
            f"{API}/repositories/alice/widget/diff/feature/readme..main", headers=history["headers"]
        )
        assert "docs/guide.md" in r.text and "src/app.py" not in r.text

    def test_diffstat(self, client: TestClient, history: dict[str, Any]) -> None:
        page = client.get(
            f"{API}/repositories/alice/widget/diffstat/{history['feature']}",
            headers=history["headers"],
        ).json()
        by_path = {v["new"]["path"]: v for v in page["values"]}
        guide = by_path["docs/guide.md"]
        assert guide["type"] == "diffstat" and guide["status"] == "added"
        assert guide["lines_added"] == 1 and guide["old"] is None
        assert page["size"] == 3

    def test_unknown_revision_is_404(self, client: TestClient, history: dict[str, Any]) -> None:
        r = client.get(
            f"{API}/repositories/alice/widget/diff/nope..main", headers=history["headers"]
        )
        assert r.status_code == 404


class TestBuildStatuses:
    def test_report_update_read_and_list(
        self, client: TestClient, db: Session, history: dict[str, Any]
    ) -> None:
        h, head = history["headers"], history["hashes"][-1]
        base = f"{API}/repositories/alice/widget/commit/{head}/statuses"
        r = client.post(
            f"{base}/build",
            headers=h,
            json={
                "key": "CI-1",
                "state": "INPROGRESS",
                "url": "https://ci.example.test/1",
                "name": "Unit tests",
                "refname": "main",
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["type"] == "build" and body["commit"]["hash"] == head
        assert body["links"]["self"]["href"].endswith(f"/commit/{head}/statuses/build/CI-1")
        r = client.put(f"{base}/build/CI-1", headers=h, json={"state": "SUCCESSFUL"})
        assert r.json()["state"] == "SUCCESSFUL" and r.json()["name"] == "Unit tests"
        assert client.get(f"{base}/build/CI-1", headers=h).json()["state"] == "SUCCESSFUL"
        page = client.get(base, headers=h).json()
        assert page["size"] == 1 and page["values"][0]["key"] == "CI-1"
        keys = [
            e.key
            for e in db.scalars(select(Event).order_by(Event.id))
            if e.key.startswith("repo:commit_status")
        ]
        assert keys == ["repo:commit_status_created", "repo:commit_status_updated"]

    def test_bad_state_is_400_and_missing_key_404(
        self, client: TestClient, history: dict[str, Any]
    ) -> None:
        h, head = history["headers"], history["hashes"][-1]
        base = f"{API}/repositories/alice/widget/commit/{head}/statuses/build"
        r = client.post(base, headers=h, json={"key": "k", "state": "DONE", "url": "https://x"})
        assert r.status_code == 400 and "state" in r.json()["error"]["fields"]
        assert client.get(f"{base}/nope", headers=h).status_code == 404

    def test_anonymous_cannot_report(self, client: TestClient, history: dict[str, Any]) -> None:
        head = history["hashes"][-1]
        r = client.post(
            f"{API}/repositories/alice/widget/commit/{head}/statuses/build",
            json={"key": "k", "state": "FAILED", "url": "https://x"},
        )
        assert r.status_code == 401


class TestForks:
    def test_fork_through_the_api_and_list_forks(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        make_user(db, "bob")
        ctx = make_repo(db, settings, alice, private=False)
        seed_history(db, settings, ctx)
        bob = auth(db, "bob", "repository:write")
        r = client.post(
            f"{API}/repositories/alice/widget/forks", headers=bob, json={"name": "My widget"}
        )
        assert r.status_code == 201, r.text
        assert (
            r.json()["full_name"] == "bob/widget"
            and r.json()["parent"]["full_name"] == "alice/widget"
        )
        assert r.json()["mainbranch"] == {"type": "branch", "name": "main"}
        page = client.get(f"{API}/repositories/alice/widget/forks").json()
        assert [v["full_name"] for v in page["values"]] == ["bob/widget"]
        r = client.post(f"{API}/repositories/alice/widget/forks", headers=bob)
        assert r.status_code == 400 and "already exists" in r.json()["error"]["message"]
