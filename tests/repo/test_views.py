"""Repository pages: rendering, escaping, visibility, forms with CSRF, the sidebar hook."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Repository
from appdock.repo.service import RepoService
from tests.factories.account import PASSWORD, make_team, make_user
from tests.factories.repo import commit_files, make_repo, seed_history, subject_of
from tests.web_helpers import csrf_from, login, post_form


@pytest.fixture
def widget(db: Session, settings: Settings) -> dict[str, Any]:
    alice = make_user(db, "alice")
    ctx = make_repo(db, settings, alice, description="A widget <b>bold</b>")
    hashes = seed_history(db, settings, ctx)
    evil = commit_files(
        settings,
        ctx.repo,
        {
            "README.md": "# Widget\n\n<script>alert('readme')</script>\n\n![logo](img/logo.png)\n",
            "src/evil.py": "x = '<script>alert(1)</script>'\n",
            "blob.bin": b"\x00\x01\x02binary",
        },
        message="Add <script> things",
    )
    feature = commit_files(
        settings, ctx.repo, {"docs/guide.md": "# Guide\n"}, branch="feature/readme", message="Guide"
    )
    return {"ctx": ctx, "hashes": [*hashes, evil], "feature": feature, "alice": alice}


class TestOverview:
    def test_empty_repository_shows_push_instructions(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        make_repo(db, settings, alice)
        login(client, "alice", PASSWORD)
        page = client.get("/alice/widget")
        assert page.status_code == 200
        assert "This repository is empty" in page.text
        assert "git clone http://testserver/alice/widget.git" in page.text

    def test_readme_rendered_safely_with_recent_commits(
        self, client: TestClient, widget: dict[str, Any]
    ) -> None:
        login(client, "alice", PASSWORD)
        page = client.get("/alice/widget").text
        assert "<h1>Widget</h1>" in page
        assert "<script>alert('readme')" not in page and "&lt;script&gt;" in page
        assert 'src="/alice/widget/raw/main/img/logo.png"' in page
        assert "Add &lt;script&gt; things" in page  # commit summary escaped
        assert "A widget &lt;b&gt;bold&lt;/b&gt;" in page
        assert "2 branches" in page

    def test_private_repository_is_404_to_anonymous_and_outsiders(
        self, client: TestClient, db: Session, widget: dict[str, Any]
    ) -> None:
        assert client.get("/alice/widget").status_code == 404
        make_user(db, "mal")
        login(client, "mal", PASSWORD)
        assert client.get("/alice/widget").status_code == 404
        assert client.get("/alice/widget/src/main/README.md").status_code == 404
        assert client.get("/alice/widget/raw/main/README.md").status_code == 404

    def test_public_repository_is_visible_to_anonymous(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        bob = make_user(db, "bob")
        ctx = make_repo(db, settings, bob, "open", private=False)
        seed_history(db, settings, ctx)
        page = client.get("/bob/open")
        assert page.status_code == 200 and "Repository settings" not in page.text


class TestSource:
    def test_directory_and_file_with_line_numbers(
        self, client: TestClient, widget: dict[str, Any]
    ) -> None:
        login(client, "alice", PASSWORD)
        tree = client.get("/alice/widget/src/main/src").text
        assert 'href="/alice/widget/src/main/src/app.py"' in tree
        file = client.get("/alice/widget/src/main/src/evil.py").text
        assert 'id="L1"' in file and "&lt;script&gt;" in file and "<script>alert(1)" not in file
        assert 'href="/alice/widget/raw/main/src/evil.py"' in file

    def test_branch_with_slash_and_markdown_preview(
        self, client: TestClient, widget: dict[str, Any]
    ) -> None:
        login(client, "alice", PASSWORD)
        page = client.get("/alice/widget/src/feature/readme/docs/guide.md")
        assert page.status_code == 200 and "<h1>Guide</h1>" in page.text
        code = client.get("/alice/widget/src/feature/readme/docs/guide.md?view=code").text
        assert 'id="L1"' in code

    def test_binary_and_missing_files(self, client: TestClient, widget: dict[str, Any]) -> None:
        login(client, "alice", PASSWORD)
        assert "Binary file not shown" in client.get("/alice/widget/src/main/blob.bin").text
        assert client.get("/alice/widget/src/main/nope.txt").status_code == 404
        assert client.get("/alice/widget/src/nobranch/x").status_code == 404

    def test_raw_is_plain_text_in_a_sandbox(
        self, client: TestClient, widget: dict[str, Any]
    ) -> None:
        login(client, "alice", PASSWORD)
        r = client.get("/alice/widget/raw/main/src/evil.py")
        assert r.text == "x = '<script>alert(1)</script>'\n"
        assert r.headers["content-type"].startswith("text/plain")
        assert "sandbox" in r.headers["content-security-policy"]

    def test_large_file_is_not_rendered(
        self, client: TestClient, settings: Settings, widget: dict[str, Any]
    ) -> None:
        commit_files(settings, widget["ctx"].repo, {"big.txt": "x" * (1024 * 1024 + 10)})
        login(client, "alice", PASSWORD)
        assert "too large to display" in client.get("/alice/widget/src/main/big.txt").text


class TestCommitPages:
    def test_commit_list_and_branch_list(self, client: TestClient, widget: dict[str, Any]) -> None:
        login(client, "alice", PASSWORD)
        page = client.get("/alice/widget/commits").text
        for h in widget["hashes"]:
            assert f"/alice/widget/commits/{h}" in page
        branch = client.get("/alice/widget/commits/branch/feature/readme").text
        assert f"/alice/widget/commits/{widget['feature']}" in branch
        assert client.get("/alice/widget/commits/branch/nope").status_code == 404

    def test_commit_page_shows_escaped_diff_and_build_statuses(
        self, client: TestClient, db: Session, settings: Settings, widget: dict[str, Any]
    ) -> None:
        evil = widget["hashes"][-1]
        svc = RepoService(db, settings)
        svc.set_status(
            subject_of(widget["alice"]),
            widget["ctx"],
            evil,
            key="ci",
            state="FAILED",
            url="javascript:alert(1)",
            name="Unit tests",
        )
        db.commit()
        login(client, "alice", PASSWORD)
        page = client.get(f"/alice/widget/commits/{evil}").text
        assert "src/evil.py" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)" not in page
        assert "Binary file changed" in page
        assert "Unit tests" in page and "FAILED" in page
        assert 'href="javascript:' not in page  # a status URL that is not http(s) is no link
        assert client.get("/alice/widget/commits/" + "f" * 40).status_code == 404

    def test_branches_page(self, client: TestClient, widget: dict[str, Any]) -> None:
        login(client, "alice", PASSWORD)
        page = client.get("/alice/widget/branches").text
        assert "feature/readme" in page and "main branch" in page


class TestCreateForm:
    def test_create_with_csrf(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        r = post_form(
            client,
            "/repositories/new",
            "/repositories/new",
            {"workspace": "alice", "name": "My Tool", "description": "d", "visibility": "public"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/alice/my-tool"  # type: ignore[attr-defined]
        repo = db.scalar(select(Repository).where(Repository.slug == "my-tool"))
        assert repo is not None and not repo.is_private and repo.name == "My Tool"

    def test_missing_csrf_token_is_refused(self, client: TestClient, db: Session) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        r = client.post("/repositories/new", data={"workspace": "alice", "name": "x"})
        assert r.status_code == 403
        assert db.scalar(select(func.count(Repository.id))) == 0

    def test_invalid_slug_shows_the_message_and_creates_nothing(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        make_user(db, "alice")
        login(client, "alice", PASSWORD)
        r = post_form(
            client,
            "/repositories/new",
            "/repositories/new",
            {"workspace": "alice", "name": "x", "slug": "Bad Slug"},
        )
        assert r.status_code == 400 and "is not a valid repository slug" in r.text  # type: ignore[attr-defined]
        assert db.scalar(select(func.count(Repository.id))) == 0
        assert not settings.repos_dir.exists() or not any(settings.repos_dir.iterdir())

    def test_anonymous_is_sent_to_login(self, client: TestClient) -> None:
        r = client.get("/repositories/new", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


class TestSettingsPage:
    def test_member_without_admin_gets_404(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        acme = make_team(db, "acme", alice, bob)
        make_repo(db, settings, alice, workspace=acme)
        login(client, "bob", PASSWORD)
        assert client.get("/acme/widget").status_code == 200
        assert client.get("/acme/widget/admin").status_code == 404
        assert "Repository settings" not in client.get("/acme/widget").text

    def test_rename_then_delete_with_confirmation(
        self, client: TestClient, db: Session, settings: Settings, widget: dict[str, Any]
    ) -> None:
        login(client, "alice", PASSWORD)
        r = post_form(
            client,
            "/alice/widget/admin",
            "/alice/widget/admin",
            {
                "name": "Gadget",
                "slug": "gadget",
                "description": "new",
                "visibility": "private",
                "fork_policy": "allow_forks",
                "project": "PROJ",
            },
        )
        assert r.headers["location"] == "/alice/gadget/admin"  # type: ignore[attr-defined]
        assert client.get("/alice/gadget").status_code == 200
        r = post_form(
            client, "/alice/gadget/admin", "/alice/gadget/admin/delete", {"confirm": "alice/wrong"}
        )
        assert client.get("/alice/gadget").status_code == 200  # not deleted
        r = post_form(
            client, "/alice/gadget/admin", "/alice/gadget/admin/delete", {"confirm": "alice/gadget"}
        )
        assert r.headers["location"] == "/alice"  # type: ignore[attr-defined]
        assert client.get("/alice/gadget").status_code == 404
        assert not any(settings.repos_dir.iterdir())


class TestForkForm:
    def test_fork_into_own_workspace(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        bob = make_user(db, "bob")
        make_user(db, "carol")
        ctx = make_repo(db, settings, bob, "open", private=False)
        seed_history(db, settings, ctx)
        login(client, "carol", PASSWORD)
        r = post_form(
            client,
            "/bob/open/fork",
            "/bob/open/fork",
            {"target": "carol", "slug": "open", "name": "open"},
        )
        assert r.headers["location"] == "/carol/open"  # type: ignore[attr-defined]
        assert "Forked from" in client.get("/carol/open").text


class TestListsAndNav:
    def test_workspace_page_and_dashboard_list_repositories(
        self, client: TestClient, widget: dict[str, Any]
    ) -> None:
        login(client, "alice", PASSWORD)
        assert 'href="/alice/widget"' in client.get("/alice").text
        assert "alice/widget" in client.get("/").text

    def test_repo_nav_extension_hook(
        self, app: FastAPI, client: TestClient, widget: dict[str, Any]
    ) -> None:
        app.state.repo_nav.append(
            {"key": "pipelines", "label": "Pipelines", "href": "/{workspace}/{repo_slug}/pipes"}
        )

        def only_on_private(request: Request, repo: Any) -> dict[str, str] | None:
            return (
                {"key": "secret", "label": "Private thing", "href": "/x"}
                if repo.is_private
                else None
            )

        app.state.repo_nav.append(only_on_private)
        login(client, "alice", PASSWORD)
        page = client.get("/alice/widget/commits").text
        assert 'href="/alice/widget/pipes"' in page and "Pipelines" in page
        assert "Private thing" in page
        nav = page[page.index('aria-label="Repository"') :]
        assert nav.index("Pipelines") < nav.index("Repository settings")
        assert csrf_from(page)
