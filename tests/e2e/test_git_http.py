"""git over smart HTTP against a running server, with the real git CLI, and the repo:push events
each push leaves behind."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.auth import authenticator
from appdock.config import Settings
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.models import Event, Repository, User, Workspace
from tests.e2e.conftest import Git, LiveServer
from tests.factories.account import PASSWORD, make_app_password, make_team, make_user
from tests.factories.repo import make_repo, seed_history

pytestmark = pytest.mark.e2e


def push_events(live: LiveServer) -> list[dict[str, Any]]:
    with live.sessions() as session:
        rows = session.scalars(select(Event).where(Event.key == "repo:push").order_by(Event.id))
        return [{"actor_user_id": r.actor_user_id, **r.payload} for r in rows]


@pytest.fixture
def alice(live: LiveServer) -> Iterator[User]:
    with live.sessions() as session:
        user = make_user(session, "alice")
        make_repo(session, live.settings, user, "widget")
        yield user


def remote(
    live: LiveServer, user: str = "alice", password: str = PASSWORD, path: str = "/alice/widget.git"
) -> str:
    return live.url(path, user, password)


class TestPushAndEvents:
    def test_clone_push_new_branch_sets_main_and_records_event(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        work = tmp_path / "w"
        clone = git("clone", remote(live), str(work))
        assert "empty repository" in clone.stderr
        first = git.commit(work, {"README.md": "# Widget\n"}, "first")
        git("push", "origin", "main", cwd=work)
        (event,) = push_events(live)
        (change,) = event["push"]["changes"]
        assert change["created"] and not change["closed"] and not change["forced"]
        assert change["new"] == {**change["new"], "type": "branch", "name": "main"}
        assert [c["hash"] for c in change["commits"]] == [first]
        assert event["actor_user_id"] == alice.id and event["actor"]["username"] == "alice"
        with live.sessions() as session:
            repo = session.scalar(select(Repository).where(Repository.slug == "widget"))
            assert repo is not None and repo.mainbranch == "main"
        again = tmp_path / "again"
        git("clone", remote(live), str(again))
        assert (again / "README.md").read_text() == "# Widget\n"  # HEAD points at main

    def test_fast_forward_force_tag_and_delete(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        work = tmp_path / "w"
        git("clone", remote(live), str(work))
        base = git.commit(work, {"a.txt": "1\n"}, "base")
        git("push", "origin", "main", cwd=work)
        git("checkout", "-q", "-b", "feature", cwd=work)
        f1 = git.commit(work, {"f.txt": "1\n"}, "f1")
        git("push", "origin", "feature", cwd=work)
        f2 = git.commit(work, {"f.txt": "2\n"}, "f2")
        f3 = git.commit(work, {"f.txt": "3\n"}, "f3")
        git("push", "origin", "feature", cwd=work)  # fast-forward
        git("reset", "-q", "--hard", base, cwd=work)
        rewritten = git.commit(work, {"f.txt": "rewritten\n"}, "rewritten")
        git("push", "--force", "origin", "feature", cwd=work)
        git("tag", "-a", "v1", "-m", "Release one", cwd=work)
        git("push", "origin", "v1", cwd=work)
        git("push", "origin", ":feature", cwd=work)  # delete the branch

        events = push_events(live)
        changes = [e["push"]["changes"][0] for e in events]
        created, ff, forced, tag, closed = changes[1:]
        assert created["created"] and [c["hash"] for c in created["commits"]] == [f1]
        assert not ff["created"] and not ff["forced"]
        assert [c["hash"] for c in ff["commits"]] == [f3, f2]
        assert ff["old"]["target"]["hash"] == f1 and ff["new"]["target"]["hash"] == f3
        assert forced["forced"] and [c["hash"] for c in forced["commits"]] == [rewritten]
        assert tag["created"] and tag["new"]["type"] == "tag" and tag["new"]["name"] == "v1"
        assert tag["new"]["target"]["hash"] == rewritten and "Release one" in tag["new"]["message"]
        assert closed["closed"] and closed["new"] is None
        assert closed["old"]["name"] == "feature" and closed["old"]["target"]["hash"] == rewritten
        assert all(e["repository"]["full_name"] == "alice/widget" for e in events)

    def test_event_exists_even_if_the_web_process_stops_right_after(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        work = tmp_path / "w"
        git("clone", remote(live), str(work))
        head = git.commit(work, {"a.txt": "1\n"}, "only")
        git("push", "origin", "main", cwd=work)
        live.stop()  # the web process does nothing further
        (event,) = push_events(live)
        assert event["push"]["changes"][0]["new"]["target"]["hash"] == head
        spool = live.settings.data_dir / "spool" / "pushes"
        assert not spool.exists() or not any(spool.glob("*.json"))

    def test_push_with_an_app_password(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        with live.sessions() as session:
            secret = make_app_password(session, alice, "repository:write")
        work = tmp_path / "w"
        git("clone", remote(live, password=secret), str(work))
        git.commit(work, {"a.txt": "1\n"}, "c")
        git("push", "origin", "main", cwd=work)
        assert len(push_events(live)) == 1


class TestAccess:
    def test_anonymous_clone_of_public_repository(
        self, live: LiveServer, git: Git, tmp_path: Path
    ) -> None:
        with live.sessions() as session:
            bob = make_user(session, "bob")
            ctx = make_repo(session, live.settings, bob, "open", private=False)
            seed_history(session, live.settings, ctx)
        git("clone", live.url("/bob/open.git"), str(tmp_path / "c"))
        assert (tmp_path / "c" / "README.md").exists()
        git("clone", live.url("/bob/open"), str(tmp_path / "no-suffix"))  # without .git too

    def test_private_repository_asks_anonymous_for_credentials(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        r = httpx.get(live.url("/alice/widget.git/info/refs?service=git-upload-pack"))
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        proc = git("clone", live.url("/alice/widget.git"), str(tmp_path / "c"), check=False)
        assert proc.returncode != 0 and "could not read Username" in proc.stderr

    def test_missing_repository_looks_like_a_private_one(self, live: LiveServer) -> None:
        r = httpx.get(live.url("/nobody/nothing.git/info/refs?service=git-upload-pack"))
        assert r.status_code == 401

    def test_wrong_password_is_401(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        proc = git(
            "clone", remote(live, password="wrong-password"), str(tmp_path / "c"), check=False
        )
        assert proc.returncode != 0 and "Authentication failed" in proc.stderr

    def test_outsider_sees_404_for_a_private_repository(
        self, live: LiveServer, alice: User
    ) -> None:
        with live.sessions() as session:
            make_user(session, "mal")
        r = httpx.get(
            live.url("/alice/widget.git/info/refs?service=git-upload-pack"), auth=("mal", PASSWORD)
        )
        assert r.status_code == 404

    def test_push_without_write_access_shows_a_clear_403(
        self, live: LiveServer, git: Git, tmp_path: Path
    ) -> None:
        with live.sessions() as session:
            bob = make_user(session, "bob")
            make_user(session, "mal")
            ctx = make_repo(session, live.settings, bob, "open", private=False)
            seed_history(session, live.settings, ctx)
        work = tmp_path / "w"
        git("clone", live.url("/bob/open.git", "mal", PASSWORD), str(work))
        git.commit(work, {"x.txt": "x"}, "evil")
        proc = git("push", "origin", "main:evil", cwd=work, check=False)
        assert proc.returncode != 0
        assert (
            "remote: You have read access to bob/open; pushing needs write access." in proc.stderr
        )
        assert "403" in proc.stderr
        assert push_events(live) == []

    def test_app_password_without_write_scope_cannot_push(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User
    ) -> None:
        with live.sessions() as session:
            secret = make_app_password(session, alice, "repository")
        work = tmp_path / "w"
        git("clone", remote(live, password=secret), str(work))
        git.commit(work, {"a": "1"}, "c")
        proc = git("push", "origin", "main", cwd=work, check=False)
        assert proc.returncode != 0 and "'repository:write' scope" in proc.stderr

    def test_team_member_can_push_to_team_repository(
        self, live: LiveServer, git: Git, tmp_path: Path
    ) -> None:
        with live.sessions() as session:
            owner, member = make_user(session, "owner"), make_user(session, "member")
            member_id = member.id
            acme = make_team(session, "acme", owner, member)
            make_repo(session, live.settings, owner, "tool", workspace=acme)
        work = tmp_path / "w"
        git("clone", live.url("/acme/tool.git", "member", PASSWORD), str(work))
        git.commit(work, {"a": "1"}, "c")
        git("push", "origin", "main", cwd=work)
        (event,) = push_events(live)
        assert event["actor_user_id"] == member_id and event["actor"]["username"] == "member"


class TestTokenAuth:
    @pytest.fixture
    def resolver(self, live: LiveServer) -> Iterator[None]:
        def resolve(
            request: Request, token: str, session: Session, settings: Settings
        ) -> AuthSubject:
            if token != "good-token":
                from appdock.core.errors import Unauthorized

                raise Unauthorized("bad token")
            team = session.scalar(select(Workspace).where(Workspace.slug == "alice"))
            assert team is not None
            return AuthSubject.limited(
                "installation", frozenset({Scope.REPOSITORY_WRITE}), workspace_id=team.id
            )

        previous = authenticator.TOKEN_RESOLVERS.get("bearer")
        authenticator.TOKEN_RESOLVERS["bearer"] = resolve
        yield
        if previous is not None:
            authenticator.TOKEN_RESOLVERS["bearer"] = previous

    def test_x_token_auth_goes_to_the_bearer_resolver(
        self, live: LiveServer, git: Git, tmp_path: Path, alice: User, resolver: None
    ) -> None:
        work = tmp_path / "w"
        git("clone", remote(live, "x-token-auth", "good-token"), str(work))
        git.commit(work, {"a": "1"}, "by an app")
        git("push", "origin", "main", cwd=work)
        (event,) = push_events(live)
        assert event["actor_user_id"] is None  # acting as the workspace, not a user
        assert event["actor"]["type"] == "team" and event["actor"]["username"] == "alice"
        proc = git("ls-remote", remote(live, "x-token-auth", "bad"), check=False)
        assert proc.returncode != 0

    def test_without_a_resolver_token_auth_is_401(
        self, live: LiveServer, alice: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delitem(authenticator.TOKEN_RESOLVERS, "bearer", raising=False)
        r = httpx.get(
            live.url("/alice/widget.git/info/refs?service=git-upload-pack"),
            auth=("x-token-auth", "anything"),
        )
        assert r.status_code == 401 and "not enabled" in r.text


class TestProtocol:
    def test_gzip_upload_pack_request(self, live: LiveServer, alice: User) -> None:
        with live.sessions() as session:
            ctx = session.scalar(select(Repository).where(Repository.slug == "widget"))
            assert ctx is not None
            from appdock.repo.service import RepoService

            seed_history(session, live.settings, RepoService(session, live.settings).context(ctx))
        head = live.settings.repos_dir / ctx.disk_name
        from appdock.git import GitRepo

        want = GitRepo(head).require("main")
        body = f"0032want {want}\n".encode() + b"00000009done\n"
        r = httpx.post(
            live.url("/alice/widget.git/git-upload-pack"),
            auth=("alice", PASSWORD),
            content=gzip.compress(body),
            headers={
                "Content-Type": "application/x-git-upload-pack-request",
                "Content-Encoding": "gzip",
            },
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-git-upload-pack-result"
        assert r.content.startswith(b"0008NAK\n") and b"PACK" in r.content

    def test_dumb_protocol_is_refused(self, live: LiveServer, alice: User) -> None:
        r = httpx.get(live.url("/alice/widget.git/info/refs"), auth=("alice", PASSWORD))
        assert r.status_code == 403 and "smart HTTP" in r.text

    def test_wrong_content_type_is_415(self, live: LiveServer, alice: User) -> None:
        r = httpx.post(
            live.url("/alice/widget.git/git-upload-pack"), auth=("alice", PASSWORD), content=b"0000"
        )
        assert r.status_code == 415
