"""REST 2.0 account endpoints, on every database backend."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.account import basic, make_app_password, make_team, make_user

API = "/api/2.0"


class TestGetCurrentUser:
    def test_app_password_returns_bitbucket_user(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        pw = make_app_password(db, alice, "account")
        r = client.get(f"{API}/user", headers=basic("alice", pw))
        assert r.status_code == 200
        body = r.json()
        assert body["type"] == "user"
        assert body["uuid"] == alice.uuid and body["uuid"].startswith("{")
        assert body["account_id"] == alice.account_id
        assert body["links"]["self"]["href"] == f"http://testserver/api/2.0/users/{alice.uuid}"
        assert body["links"]["avatar"]["href"].startswith("http://testserver/")

    def test_wrong_password_is_401_with_message(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        r = client.get(f"{API}/user", headers=basic("alice", "nope"))
        assert r.status_code == 401
        assert r.json()["type"] == "error"
        assert "app password" in r.json()["error"]["message"]

    def test_account_password_is_refused_on_the_api(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice", password="a-real-password")
        r = client.get(f"{API}/user", headers=basic("alice", "a-real-password"))
        assert r.status_code == 401

    def test_app_password_of_another_user_is_401(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_user(db, "bob")
        pw = make_app_password(db, alice, "account")
        assert client.get(f"{API}/user", headers=basic("bob", pw)).status_code == 401

    def test_anonymous_is_401(self, client: TestClient) -> None:
        r = client.get(f"{API}/user")
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "authentication required"

    def test_missing_scope_is_403_naming_it(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        pw = make_app_password(db, alice, "repository")
        r = client.get(f"{API}/user", headers=basic("alice", pw))
        assert r.status_code == 403
        assert "'account'" in r.json()["error"]["message"]
        assert r.json()["error"]["data"]["required_scope"] == "account"

    def test_malformed_basic_header_is_401(self, client: TestClient) -> None:
        r = client.get(f"{API}/user", headers={"Authorization": "Basic !!!"})
        assert r.status_code == 401

    def test_unknown_scheme_is_401(self, client: TestClient) -> None:
        r = client.get(f"{API}/user", headers={"Authorization": "Digest abc"})
        assert r.status_code == 401
        assert "Digest" in r.json()["error"]["message"]

    def test_jwt_query_parameter_is_refused(self, client: TestClient) -> None:
        r = client.get(f"{API}/user?jwt=abc.def.ghi")
        assert r.status_code == 401
        assert "jwt" in r.json()["error"]["message"]


class TestUserWorkspaces:
    def test_lists_personal_and_team_workspaces(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "account")
        r = client.get(f"{API}/user/workspaces/", headers=basic("alice", pw))
        assert r.status_code == 200
        page = r.json()
        slugs = {v["workspace"]["slug"]: v["administrator"] for v in page["values"]}
        assert slugs == {"alice": True, "acme": True}
        assert page["size"] == 2 and page["pagelen"] == 10 and page["page"] == 1

    def test_permissions_list_roles(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        bob = make_user(db, "bob")
        make_team(db, "acme", alice, bob)
        pw = make_app_password(db, bob, "account")
        r = client.get(f"{API}/user/permissions/workspaces", headers=basic("bob", pw))
        roles = {v["workspace"]["slug"]: v["permission"] for v in r.json()["values"]}
        assert roles == {"bob": "owner", "acme": "member"}


class TestGetUser:
    def test_by_uuid_account_id_and_username(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        for key in (alice.uuid, alice.account_id, "alice"):
            r = client.get(f"{API}/users/{key}")
            assert r.status_code == 200, key
            assert r.json()["uuid"] == alice.uuid

    def test_unknown_user_is_404(self, client: TestClient) -> None:
        r = client.get(f"{API}/users/nobody")
        assert r.status_code == 404
        assert r.json()["type"] == "error"


class TestWorkspaces:
    def test_list_paginates_with_absolute_next(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        for i in range(3):
            make_team(db, f"team{i}", alice)
        pw = make_app_password(db, alice, "account")
        r = client.get(f"{API}/workspaces?pagelen=2", headers=basic("alice", pw))
        page = r.json()
        assert page["size"] == 4 and len(page["values"]) == 2
        assert page["next"].startswith("http://testserver/api/2.0/workspaces?")
        assert "page=2" in page["next"] and "pagelen=2" in page["next"]
        second = client.get(
            page["next"].removeprefix("http://testserver"), headers=basic("alice", pw)
        )
        assert len(second.json()["values"]) == 2
        assert "next" not in second.json()
        assert second.json()["previous"].endswith("page=1")

    def test_pagelen_over_100_is_400(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        pw = make_app_password(db, alice, "account")
        r = client.get(f"{API}/workspaces?pagelen=1000", headers=basic("alice", pw))
        assert r.status_code == 400
        assert "pagelen" in r.json()["error"]["message"]

    def test_get_has_bitbucket_shape(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        ws = make_team(db, "acme", alice, name="Acme Inc")
        pw = make_app_password(db, alice, "account")
        body = client.get(f"{API}/workspaces/acme", headers=basic("alice", pw)).json()
        assert (
            body["type"] == "workspace" and body["uuid"] == ws.uuid and body["name"] == "Acme Inc"
        )
        for link in ("self", "html", "avatar", "members", "projects", "repositories"):
            assert body["links"][link]["href"].startswith("http://testserver/"), link

    def test_get_by_uuid(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        ws = make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "account")
        assert (
            client.get(f"{API}/workspaces/{ws.uuid}", headers=basic("alice", pw)).json()["slug"]
            == "acme"
        )

    def test_private_workspace_is_404_to_outsiders(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_user(db, "mallory")
        make_team(db, "acme", alice)
        pw = make_app_password(db, db.get(type(alice), 2) or alice, "account")  # mallory
        r = client.get(f"{API}/workspaces/acme", headers=basic("mallory", pw))
        assert r.status_code == 404
        assert client.get(f"{API}/workspaces/acme").status_code == 404

    def test_unknown_is_404_envelope(self, client: TestClient) -> None:
        r = client.get(f"{API}/workspaces/no-such-ws")
        assert r.status_code == 404
        assert r.json() == {
            "type": "error",
            "error": {"message": "workspace 'no-such-ws' not found"},
        }


class TestMembers:
    def test_lists_members_with_roles(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        bob = make_user(db, "bob")
        make_team(db, "acme", alice, bob)
        pw = make_app_password(db, bob, "account")
        r = client.get(f"{API}/workspaces/acme/members", headers=basic("bob", pw))
        assert r.status_code == 200
        members = {v["user"]["username"]: v["permission"] for v in r.json()["values"]}
        assert members == {"alice": "owner", "bob": "member"}
        assert all(v["type"] == "workspace_membership" for v in r.json()["values"])

    def test_one_member(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        bob = make_user(db, "bob")
        make_team(db, "acme", alice, bob)
        pw = make_app_password(db, alice, "account")
        r = client.get(f"{API}/workspaces/acme/members/{bob.uuid}", headers=basic("alice", pw))
        assert r.json()["user"]["uuid"] == bob.uuid
        r = client.get(f"{API}/workspaces/acme/members/nobody", headers=basic("alice", pw))
        assert r.status_code == 404


class TestProjects:
    def test_every_workspace_has_a_default_project(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "project")
        r = client.get(f"{API}/workspaces/acme/projects", headers=basic("alice", pw))
        assert r.status_code == 200
        assert [p["key"] for p in r.json()["values"]] == ["PROJ"]

    def test_create_then_get(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "project:admin")
        r = client.post(
            f"{API}/workspaces/acme/projects",
            headers=basic("alice", pw),
            json={"key": "TOOLS", "name": "Tools", "description": "d", "is_private": False},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (
            body["type"] == "project" and body["key"] == "TOOLS" and body["owner"]["type"] == "team"
        )
        got = client.get(f"{API}/workspaces/acme/projects/TOOLS", headers=basic("alice", pw))
        assert got.json()["uuid"] == body["uuid"]

    def test_missing_key_is_400_naming_field(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "account")  # even without the scope: body first
        r = client.post(
            f"{API}/workspaces/acme/projects", headers=basic("alice", pw), json={"name": "T"}
        )
        assert r.status_code == 400
        assert "key" in r.json()["error"]["fields"]

    def test_without_admin_scope_is_403(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "project")
        r = client.post(
            f"{API}/workspaces/acme/projects",
            headers=basic("alice", pw),
            json={"key": "T", "name": "T"},
        )
        assert r.status_code == 403
        assert "project:admin" in r.json()["error"]["message"]

    def test_member_without_admin_role_is_403(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        bob = make_user(db, "bob")
        make_team(db, "acme", alice, bob)
        pw = make_app_password(db, bob, "project:admin")
        r = client.post(
            f"{API}/workspaces/acme/projects",
            headers=basic("bob", pw),
            json={"key": "T", "name": "T"},
        )
        assert r.status_code == 403

    def test_duplicate_key_is_400_and_nothing_changes(
        self, client: TestClient, db: Session
    ) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "project:admin")
        r = client.post(
            f"{API}/workspaces/acme/projects",
            headers=basic("alice", pw),
            json={"key": "PROJ", "name": "X"},
        )
        assert r.status_code == 400
        assert r.json()["error"]["fields"] == {
            "key": ["key: project 'PROJ' already exists in 'acme'"]
        }
        names = [
            p["name"]
            for p in client.get(
                f"{API}/workspaces/acme/projects", headers=basic("alice", pw)
            ).json()["values"]
        ]
        assert names == ["Untitled project"]

    def test_invalid_key_is_400(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        make_team(db, "acme", alice)
        pw = make_app_password(db, alice, "project:admin")
        r = client.post(
            f"{API}/workspaces/acme/projects",
            headers=basic("alice", pw),
            json={"key": "bad key", "name": "X"},
        )
        assert r.status_code == 400 and "key" in r.json()["error"]["message"]

    def test_unknown_project_is_404(self, client: TestClient, db: Session) -> None:
        alice = make_user(db, "alice")
        pw = make_app_password(db, alice, "project")
        r = client.get(f"{API}/workspaces/alice/projects/NOPE", headers=basic("alice", pw))
        assert r.status_code == 404


class TestOpenApiAndHealth:
    def test_openapi_lists_api_paths(self, client: TestClient) -> None:
        doc = client.get("/api/openapi.json").json()
        assert (
            "/2.0/user" in doc["paths"] and "/2.0/workspaces/{workspace}/projects" in doc["paths"]
        )

    def test_healthz(self, client: TestClient) -> None:
        assert client.get("/healthz").json() == {"status": "ok"}
