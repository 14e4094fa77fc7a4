"""App modules in the real host pages: repository overview panels, the sidebar repoPage and its
full page, pull request panels; signed URLs, who sees what, uninstall, conditions, escaping, CSP."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.connect.ui.service import MODULE_CACHE
from appdock.models import Installation, User, Workspace
from tests.connect.conftest import csrf_from, login
from tests.connect.ui.pages_helpers import APP_BASE, frames, ui_descriptor, verify
from tests.factories.account import make_team, make_user
from tests.factories.connect import app_jwt, make_installation
from tests.factories.pullrequest import make_branch, open_pr
from tests.factories.repo import make_repo, seed_history

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@dataclass
class World:
    alice: User
    bob: User
    acme: Workspace
    inst: Installation
    secret: str


@pytest.fixture
def world(db: Session, settings: Settings, client: TestClient) -> World:
    MODULE_CACHE.clear()
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    acme = make_team(db, "acme", alice, bob, name="Acme")
    ctx = make_repo(db, settings, alice, "widget", workspace=acme)
    seed_history(db, settings, ctx)
    inst, secret = make_installation(
        db, acme, alice, raw=ui_descriptor(), scopes="account pullrequest"
    )
    client.headers["accept"] = "text/html"
    login(client, "alice")
    return World(alice, bob, acme, inst, secret)


def overview(client: TestClient, path: str = "/acme/widget") -> Any:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return r


class TestRepositoryOverview:
    def test_panel_iframe_is_signed_for_the_viewer(self, client: TestClient, world: World) -> None:
        r = overview(client)
        panel = frames(r.text)["repo-panel"]
        assert panel["url"].startswith(APP_BASE + "/panel?repo=%7B")
        claims = verify(panel["url"], world.secret, world.inst.client_key)
        assert claims["sub"] == world.alice.uuid
        assert claims["aud"] == world.inst.client_key
        assert "Repository panel" in r.text

    def test_pr_panel_is_not_on_the_repository_overview(
        self, client: TestClient, world: World
    ) -> None:
        assert "pr-panel" not in frames(overview(client).text)

    def test_page_loads_the_bridge_and_frames_only_installed_origins(
        self, client: TestClient, world: World
    ) -> None:
        r = overview(client)
        assert '<script src="/static/connect/host.js"></script>' in r.text
        assert 'id="appdock-connect-config"' in r.text
        csp = r.headers["content-security-policy"]
        assert csp == f"frame-ancestors 'none'; frame-src {APP_BASE}"
        assert r.headers["x-frame-options"] == "DENY"

    def test_page_without_apps_keeps_the_default_policy_and_no_bridge(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        make_repo(db, settings, world.alice, "other")
        r = overview(client, "/alice/other")
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert "host.js" not in r.text and "data-ap-module" not in r.text

    def test_another_teams_repository_does_not_show_the_app(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        other = make_team(db, "globex", world.alice, name="Globex")
        make_repo(db, settings, world.alice, "gadget", workspace=other)
        r = overview(client, "/globex/gadget")
        assert frames(r.text) == {}
        assert "App dashboard" not in r.text
        assert client.get("/globex/gadget/addon/com.example.app/dashboard").status_code == 404

    def test_uninstalled_app_disappears(
        self, db: Session, client: TestClient, world: World
    ) -> None:
        assert "repo-panel" in frames(overview(client).text)
        db.delete(db.get(Installation, world.inst.id))
        db.commit()
        r = overview(client)
        assert frames(r.text) == {}
        assert "App dashboard" not in r.text
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"

    def test_member_sees_the_panel_signed_for_themselves(
        self, client: TestClient, world: World
    ) -> None:
        client.cookies.clear()
        login(client, "bob")
        panel = frames(overview(client).text)["repo-panel"]
        assert verify(panel["url"], world.secret, world.inst.client_key)["sub"] == world.bob.uuid

    def test_personal_install_follows_only_its_user(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        from appdock.account.store import AccountStore

        personal = AccountStore(db).personal_workspace(world.bob.id)
        assert personal is not None
        raw = ui_descriptor("com.example.mine")
        make_installation(db, personal, world.bob, key="com.example.mine", raw=raw)
        assert "App com.example.mine" not in overview(client).text  # alice
        client.cookies.clear()
        login(client, "bob")
        page = overview(client).text
        assert "App com.example.mine" in page
        assert "App com.example.app" in page


class TestConditions:
    def test_failed_condition_hides_the_panel(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        raw = ui_descriptor(
            "com.example.cond",
            repoPages=[],
            webPanels=[
                {
                    "key": "admins-only",
                    "name": {"value": "Admins only"},
                    "url": "/admins",
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "conditions": [
                        {"condition": "has_permission", "params": {"permission": "admin"}}
                    ],
                },
                {
                    "key": "unknown-cond",
                    "name": {"value": "Unknown"},
                    "url": "/unknown",
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "conditions": [{"condition": "no_such_condition"}],
                },
            ],
        )
        make_installation(db, world.acme, world.alice, key="com.example.cond", raw=raw)
        shown = frames(overview(client).text)
        assert "admins-only" in shown  # alice owns acme
        assert "unknown-cond" not in shown
        client.cookies.clear()
        login(client, "bob")  # a member: write, not admin
        shown = frames(overview(client).text)
        assert "admins-only" not in shown and "repo-panel" in shown


class TestRepoPage:
    def test_sidebar_links_to_the_full_page(self, client: TestClient, world: World) -> None:
        r = overview(client)
        assert 'href="/acme/widget/addon/com.example.app/dashboard"' in r.text
        assert ">App dashboard</a>" in r.text

    def test_full_page_frames_the_signed_module(self, client: TestClient, world: World) -> None:
        r = client.get("/acme/widget/addon/com.example.app/dashboard")
        assert r.status_code == 200
        page = frames(r.text)["dashboard"]
        assert page["url"].startswith(APP_BASE + "/page?repo=acme%2Fwidget&")
        assert verify(page["url"], world.secret, world.inst.client_key)["sub"] == world.alice.uuid
        assert page["options"]["isFullPage"] is True
        assert f"frame-src {APP_BASE}" in r.headers["content-security-policy"]
        assert 'aria-current="page"' in r.text  # the sidebar entry is active

    def test_unknown_module_is_404(self, client: TestClient, world: World) -> None:
        assert client.get("/acme/widget/addon/com.example.app/nope").status_code == 404
        assert client.get("/acme/widget/addon/com.example.app/repo-panel").status_code == 404

    def test_anonymous_viewer_of_a_private_repository_gets_no_page(
        self, client: TestClient, world: World
    ) -> None:
        client.cookies.clear()
        r = client.get("/acme/widget/addon/com.example.app/dashboard", follow_redirects=False)
        assert r.status_code in (303, 404)


class TestPullRequest:
    def test_pr_panel_carries_the_pull_request_id(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        from appdock.repo.service import RepoService
        from tests.factories.repo import subject_of

        ctx = RepoService(db, settings).get("acme", "widget", subject_of(world.alice))
        make_branch(settings, ctx, "feature", {"f.txt": "x\n"})
        pr = open_pr(db, settings, world.alice, ctx, "feature")
        r = client.get(f"/acme/widget/pull-requests/{pr.pr.number}")
        assert r.status_code == 200
        shown = frames(r.text)
        assert "repo-panel" not in shown
        url = shown["pr-panel"]["url"]
        assert url.startswith(f"{APP_BASE}/pr-panel?pr={pr.pr.number}&")
        verify(url, world.secret, world.inst.client_key)
        assert f"frame-src {APP_BASE}" in r.headers["content-security-policy"]


class TestEscaping:
    def test_app_supplied_names_are_escaped_everywhere(
        self, db: Session, client: TestClient, world: World
    ) -> None:
        raw = ui_descriptor(
            "com.example.evil",
            repoPages=[
                {
                    "key": "evil-page",
                    "name": {"value": EVIL},
                    "url": "/p",
                    "location": "org.bitbucket.repository.navigation",
                }
            ],
            webPanels=[
                {
                    "key": "evil-panel",
                    "name": {"value": EVIL},
                    "url": "/x?<script>={repository.full_name}",
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "tooltip": {"value": EVIL},
                }
            ],
        )
        raw["name"] = EVIL
        make_installation(db, world.acme, world.alice, key="com.example.evil", raw=raw)
        for path in ("/acme/widget", "/acme/widget/addon/com.example.evil/evil-page"):
            text = client.get(path).text
            assert "<script>alert(1)" not in text
            assert "<img src=x" not in text
            assert "&lt;script&gt;alert(1)" in text


def items_descriptor() -> dict[str, Any]:
    def item(key: str, location: str, url: str, **extra: Any) -> dict[str, Any]:
        return {
            "key": key,
            "name": {"value": key.title()},
            "url": url,
            "location": location,
            **extra,
        }

    return ui_descriptor(
        "com.example.items",
        webPanels=[],
        webItems=[
            item("repo-action", "org.bitbucket.repository.actions", "https://docs.example.org/x"),
            item(
                "open-page",
                "org.bitbucket.repository.actions",
                "/report?repo={repository.full_name}",
                target={"type": "page"},
            ),
            item("branch-row", "org.bitbucket.branch.list.actions", "/b?name={branch.name}"),
            item("branch-action", "org.bitbucket.branch.summary.actions", "/bs?n={branch.name}"),
            item("branch-info", "org.bitbucket.branch.summary.info", "/bi"),
            item("commit-action", "org.bitbucket.commit.summary.actions", "/c?h={commit.hash}"),
            item("commit-info", "org.bitbucket.commit.summary.info", "/ci"),
            item(
                "pr-dialog",
                "org.bitbucket.pullrequest.summary.actions",
                "/dialog?pr={pullrequest.id}",
                target={"type": "dialog", "options": {"width": "400px"}},
            ),
            item("pr-info", "org.bitbucket.pullrequest.summary.info", "/pi"),
            item("in-section", "tools-section", "/s"),
            item(
                "hidden",
                "org.bitbucket.repository.actions",
                "/h",
                conditions=[{"condition": "user_is_logged_in", "invert": True}],
            ),
        ],
        repoPages=[
            {
                "key": "actions-page",
                "name": {"value": "Report page"},
                "url": "/report-page",
                "location": "org.bitbucket.repository.actions",
            }
        ],
        webSections=[
            {
                "key": "tools-section",
                "name": {"value": "Tools"},
                "location": "org.bitbucket.repository.actions",
            }
        ],
    )


def element(page: str, module_key: str) -> str:
    """The HTML element an app item rendered as."""
    start = page.index(f'data-module-key="{module_key}"')
    begin = page.rindex("<", 0, start)
    return page[begin : page.index("</a>", start)]


class TestWebItems:
    @pytest.fixture
    def items(self, db: Session, world: World) -> str:
        _, secret = make_installation(
            db,
            world.acme,
            world.alice,
            key="com.example.items",
            raw=items_descriptor(),
            scopes="account pullrequest",
        )
        return secret

    def test_repository_actions_links_pages_and_sections(
        self, client: TestClient, world: World, items: str
    ) -> None:
        page = overview(client).text
        assert 'href="https://docs.example.org/x' in element(page, "repo-action")
        assert 'href="/acme/widget/addon/com.example.items/open-page"' in element(page, "open-page")
        assert ">Tools</span>" in page and "in-section" in page
        assert 'href="/acme/widget/addon/com.example.items/actions-page"' in element(
            page, "actions-page"
        )
        assert 'data-module-key="hidden"' not in page  # a condition the viewer fails

    def test_page_target_opens_as_a_full_page(
        self, client: TestClient, world: World, items: str
    ) -> None:
        r = client.get("/acme/widget/addon/com.example.items/open-page")
        assert r.status_code == 200
        url = frames(r.text)["open-page"]["url"]
        assert url.startswith(APP_BASE + "/report?repo=acme%2Fwidget&")
        assert "jwt=" in url
        # a webItem without a page target has no full page
        assert client.get("/acme/widget/addon/com.example.items/repo-action").status_code == 404

    def test_branch_rows_and_branch_summary_carry_the_branch(
        self, client: TestClient, world: World, items: str
    ) -> None:
        page = client.get("/acme/widget/branches").text
        assert "/b?name=main&amp;" in element(page, "branch-row")
        page = client.get("/acme/widget/commits/branch/main").text
        assert "/bs?n=main&amp;" in element(page, "branch-action")
        assert 'data-module-key="branch-info"' in page
        assert 'data-module-key="branch-row"' not in page

    def test_commit_summary_carries_the_commit(
        self, client: TestClient, settings: Settings, world: World, items: str
    ) -> None:
        match = re.search(r"/acme/widget/commits/([0-9a-f]{40})", client.get("/acme/widget").text)
        assert match is not None
        sha = match.group(1)
        page = client.get(f"/acme/widget/commits/{sha}").text
        assert f"/c?h={sha}&amp;" in element(page, "commit-action")
        assert 'data-module-key="commit-info"' in page

    def test_pull_request_dialog_and_info(
        self, db: Session, settings: Settings, client: TestClient, world: World, items: str
    ) -> None:
        from appdock.repo.service import RepoService
        from tests.factories.repo import subject_of

        ctx = RepoService(db, settings).get("acme", "widget", subject_of(world.alice))
        make_branch(settings, ctx, "feature", {"f.txt": "x\n"})
        pr = open_pr(db, settings, world.alice, ctx, "feature")
        r = client.get(f"/acme/widget/pull-requests/{pr.pr.number}")
        dialog = frames(r.text)["pr-dialog"]
        assert dialog["kind"] == "dialog"
        assert dialog["url"].startswith(f"{APP_BASE}/dialog?pr={pr.pr.number}&")
        assert 'class="adk-web-item adk-dialog-trigger"' in element(r.text, "pr-dialog")
        assert 'data-module-key="pr-info"' in r.text
        assert f"frame-src {APP_BASE}" in r.headers["content-security-policy"]
        assert "host.js" in r.text


class TestFileViews:
    @pytest.fixture
    def viewers(self, db: Session, settings: Settings, world: World) -> tuple[str, str]:
        from appdock.repo.service import RepoService
        from tests.factories.repo import commit_files, subject_of

        ctx = RepoService(db, settings).get("acme", "widget", subject_of(world.alice))
        commit_files(
            settings,
            ctx.repo,
            {"docs/guide.adoc": "= Guide\n", "Makefile": "all:\n", "data.json": "{}\n"},
        )
        raw = ui_descriptor(
            "com.example.viewer",
            repoPages=[],
            webPanels=[],
            fileViews=[
                {
                    "key": "asciidoc",
                    "name": {"value": "Asciidoc viewer"},
                    "url": "/render?repoPath={repo_path}&rev={file_cset}&filePath={file_path}",
                    "file_matches": {"extensions": ["asciidoc", "adoc"]},
                },
                {
                    "key": "makefile",
                    "name": {"value": "Make graph"},
                    "url": "/make?f={file.path}",
                    "file_matches": {"filenames": ["Makefile"]},
                },
                {
                    "key": "json",
                    "name": {"value": "JSON tree"},
                    "url": "/json?f={file.name}",
                    "file_matches": {"mime_types": ["application/json"]},
                },
            ],
        )
        inst, secret = make_installation(
            db, world.acme, world.alice, key="com.example.viewer", raw=raw
        )
        return secret, inst.client_key

    def test_matching_viewer_is_offered_and_shown_when_chosen(
        self, client: TestClient, world: World, viewers: tuple[str, str]
    ) -> None:
        page = client.get("/acme/widget/src/main/docs/guide.adoc").text
        assert "?fileviewer=com.example.viewer%3Aasciidoc" in page
        assert "Make graph" not in page and "JSON tree" not in page
        assert 'class="file-viewer"' not in page  # the host's view until one is chosen
        r = client.get(
            "/acme/widget/src/main/docs/guide.adoc?fileviewer=com.example.viewer:asciidoc"
        )
        url = frames(r.text)["asciidoc"]["url"]
        assert "/render?repoPath=acme%2Fwidget&rev=" in url
        assert "&filePath=docs%2Fguide.adoc&" in url
        assert verify(url, *viewers)["sub"] == world.alice.uuid
        assert 'class="file-viewer"' in r.text
        assert "= Guide" not in r.text

    def test_file_names_and_mime_types_match(
        self, client: TestClient, world: World, viewers: tuple[str, str]
    ) -> None:
        make = client.get("/acme/widget/src/main/Makefile").text
        assert "Make graph" in make and "Asciidoc viewer" not in make
        data = client.get("/acme/widget/src/main/data.json").text
        assert "JSON tree" in data and "Make graph" not in data
        assert "fileviewer" not in client.get("/acme/widget/src/main/README.md").text


class TestLinkers:
    @pytest.fixture
    def linked(self, db: Session, client: TestClient, world: World) -> int:
        """The app registers its (?K) value through /2.0/addon/linkers/{key}/values."""
        raw = ui_descriptor(
            "com.example.jira",
            repoPages=[],
            webPanels=[],
            linkers=[
                {"key": "issues", "regex": r"(?K)-(\d+)", "url": r"/browse/\1-\2"},
                {"key": "evil", "regex": r"EVIL(\S+)", "url": r"https://x.example/?q=\1"},
            ],
        )
        inst, secret = make_installation(
            db, world.acme, world.alice, key="com.example.jira", raw=raw
        )
        path = "/2.0/addon/linkers/issues/values"
        token = app_jwt(
            app_key="com.example.jira",
            client_key=inst.client_key,
            secret=secret,
            method="POST",
            path=path,
        )
        r = client.post(
            "/api" + path, json={"value": "PROJ"}, headers={"Authorization": f"JWT {token}"}
        )
        assert r.status_code in (200, 201), r.text
        return inst.id

    def test_pull_request_description_and_comments_link_registered_keys(
        self, db: Session, settings: Settings, client: TestClient, world: World, linked: int
    ) -> None:
        from appdock.pullrequest.service import PullRequestService
        from appdock.repo.service import RepoService
        from tests.factories.repo import subject_of

        ctx = RepoService(db, settings).get("acme", "widget", subject_of(world.alice))
        make_branch(settings, ctx, "feature", {"f.txt": "x\n"})
        pr = open_pr(
            db,
            settings,
            world.alice,
            ctx,
            "feature",
            description='Fixes PROJ-12, not NOPE-3. EVIL"><script>alert(1)</script>',
        )
        PullRequestService(db, settings).add_comment(subject_of(world.alice), pr, "See PROJ-13")
        db.commit()
        page = client.get(f"/acme/widget/pull-requests/{pr.pr.number}").text
        assert 'href="https://app.example.com/browse/PROJ-12"' in page
        assert 'href="https://app.example.com/browse/PROJ-13"' in page
        assert "browse/NOPE-3" not in page
        assert "<script>alert(1)" not in page
        assert 'href="https://x.example/?q=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in page

    def test_commit_message_links(
        self, db: Session, settings: Settings, client: TestClient, world: World, linked: int
    ) -> None:
        from appdock.repo.service import RepoService
        from tests.factories.repo import commit_files, subject_of

        ctx = RepoService(db, settings).get("acme", "widget", subject_of(world.alice))
        sha = commit_files(
            settings, ctx.repo, {"a.txt": "a\n"}, message="PROJ-5 fix\n\nAlso PROJ-6."
        )
        page = client.get(f"/acme/widget/commits/{sha}").text
        assert 'href="https://app.example.com/browse/PROJ-5"' in page
        assert 'href="https://app.example.com/browse/PROJ-6"' in page


class TestDebugView:
    def test_admin_sees_each_decision_with_connect_debug(
        self, db: Session, client: TestClient, world: World
    ) -> None:
        raw = ui_descriptor(
            "com.example.cond",
            repoPages=[],
            webPanels=[
                {
                    "key": "never",
                    "name": {"value": "Never"},
                    "url": "/n",
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "conditions": [{"condition": "no_such_condition", "params": {"x": EVIL}}],
                }
            ],
        )
        make_installation(db, world.acme, world.alice, key="com.example.cond", raw=raw)
        assert 'id="connect-debug"' not in overview(client).text
        page = overview(client, "/acme/widget?connect_debug=1").text
        assert 'id="connect-debug"' in page
        assert "unknown condition &#34;no_such_condition&#34;; hidden" in page
        assert "<script>alert(1)" not in page
        assert "repo-panel" in page and "no conditions" in page
        assert "pr-panel" in page  # listed as not placed on this page
        assert world.secret not in page

    def test_members_do_not_see_it(self, client: TestClient, world: World) -> None:
        client.cookies.clear()
        login(client, "bob")
        assert 'id="connect-debug"' not in overview(client, "/acme/widget?connect_debug=1").text


class TestFrameSources:
    def test_csp_lists_exactly_the_apps_framed_here(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        second = ui_descriptor("com.example.second", repoPages=[])
        second["baseUrl"] = "https://second.example.net"
        make_installation(db, world.acme, world.alice, key="com.example.second", raw=second)
        globex = make_team(db, "globex", world.alice, name="Globex")
        third = ui_descriptor("com.example.third", repoPages=[])
        third["baseUrl"] = "https://third.example.org"
        make_installation(db, globex, world.alice, key="com.example.third", raw=third)
        r = overview(client)
        assert r.headers["content-security-policy"] == (
            "frame-ancestors 'none'; frame-src https://app.example.com https://second.example.net"
        )

    def test_anonymous_viewer_of_a_public_repository_gets_tokens_without_subject(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        public = make_repo(db, settings, world.alice, "open", workspace=world.acme, private=False)
        seed_history(db, settings, public)
        client.cookies.clear()
        r = overview(client, "/acme/open")
        claims = verify(frames(r.text)["repo-panel"]["url"], world.secret, world.inst.client_key)
        assert "sub" not in claims
        assert "App dashboard" in r.text


class TestBridgeConfig:
    def test_config_names_each_framed_app_installation_and_its_consent(
        self, client: TestClient, world: World
    ) -> None:
        page = overview(client).text
        match = re.search(
            r'<script type="application/json" id="appdock-connect-config">(.*?)</script>', page
        )
        assert match is not None
        config = json.loads(match.group(1))
        entry = config["consent"]["com.example.app"]
        assert entry["clientKey"] == world.inst.client_key
        assert entry["needsConsent"] is True  # alice has not granted the app access yet
        assert config["page"] == {"target": "repository", "context": {"repository": "acme/widget"}}
        assert config["addonPageUrl"] == "/acme/widget/addon/{app_key}/{module_key}"
        assert config["resolveUrl"] == "/site/connect/resolve"
        assert "repo-panel" in config["dialogs"]["com.example.app"]


class TestResolveEndpoint:
    def post(self, client: TestClient, body: dict[str, Any], csrf: bool = True) -> Any:
        token = csrf_from(client.get("/acme/widget").text) if csrf else ""
        headers = {"X-CSRF-Token": token} if csrf else {}
        return client.post("/site/connect/resolve", json=body, headers=headers)

    def test_module_by_key_is_signed_for_the_viewer(self, client: TestClient, world: World) -> None:
        r = self.post(
            client,
            {
                "addonKey": "com.example.app",
                "moduleKey": "pr-panel",
                "context": {"repository": "acme/widget"},
            },
        )
        assert r.status_code == 200, r.text
        url = r.json()["url"]
        assert url.startswith(APP_BASE + "/pr-panel?pr=&")
        assert verify(url, world.secret, world.inst.client_key)["sub"] == world.alice.uuid

    def test_app_relative_url_is_signed_and_others_refused(
        self, client: TestClient, world: World
    ) -> None:
        body = {"addonKey": "com.example.app", "context": {"repository": "acme/widget"}}
        r = self.post(client, {**body, "url": "/dialog?step=2"})
        assert r.status_code == 200
        verify(r.json()["url"], world.secret, world.inst.client_key)
        r = self.post(client, {**body, "url": "https://evil.example/steal"})
        assert r.status_code == 404 and "is not a URL of app" in r.json()["error"]["message"]

    def test_app_that_does_not_serve_the_page_gets_nothing(
        self, db: Session, settings: Settings, client: TestClient, world: World
    ) -> None:
        other = make_team(db, "globex", world.alice, name="Globex")
        make_repo(db, settings, world.alice, "gadget", workspace=other)
        r = self.post(
            client,
            {
                "addonKey": "com.example.app",
                "moduleKey": "repo-panel",
                "context": {"repository": "globex/gadget"},
            },
        )
        assert r.status_code == 404
        assert "does not serve this page" in r.json()["error"]["message"]

    def test_csrf_token_is_required(self, client: TestClient, world: World) -> None:
        body = {
            "addonKey": "com.example.app",
            "url": "/x",
            "context": {"repository": "acme/widget"},
        }
        assert self.post(client, body, csrf=False).status_code == 403

    def test_bad_requests_name_the_field(self, client: TestClient, world: World) -> None:
        r = self.post(client, {"addonKey": "com.example.app", "context": {}})
        assert r.status_code == 400 and "moduleKey" in r.json()["error"]["fields"]
        r = self.post(client, {"addonKey": "com.example.app", "url": "/x", "context": {}})
        assert r.status_code == 400 and "context" in r.json()["error"]["fields"]
