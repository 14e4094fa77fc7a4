"""The atlassian-python-api ``Cloud`` client (PyPI) against a running server: it follows our links
and pages, so every object must carry its type and absolute links under BASE_URL."""

from __future__ import annotations

import pytest
from atlassian.bitbucket import Cloud

from tests.e2e.conftest import LiveServer
from tests.factories.account import make_app_password, make_team, make_user
from tests.factories.repo import commit_files, make_repo, seed_history

pytestmark = pytest.mark.e2e

SCOPES = "account repository repository:write repository:admin"


@pytest.fixture
def cloud(live: LiveServer) -> Cloud:
    with live.sessions() as session:
        alice = make_user(session, "alice")
        acme = make_team(session, "acme", alice, name="Acme")
        ctx = make_repo(
            session, live.settings, alice, "widget", workspace=acme, description="A widget"
        )
        hashes = seed_history(session, live.settings, ctx, count=12)
        commit_files(
            live.settings,
            ctx.repo,
            {"docs/guide.md": "# Guide\n"},
            branch="feature/readme",
            parent=hashes[-1],
            message="Guide",
        )
        secret = make_app_password(session, alice, SCOPES)
    return Cloud(url=live.base + "/api", username="alice", password=secret, cloud=True)


class TestAtlassianCloudClient:
    def test_workspace_repository_refs_commits_and_source(self, cloud: Cloud) -> None:
        workspace = cloud.workspaces.get("acme")
        assert workspace.slug == "acme" and workspace.name == "Acme"
        repo = workspace.repositories.get("widget")
        assert repo.slug == "widget" and repo.description == "A widget" and repo.is_private
        assert [r.slug for r in workspace.repositories.each()] == ["widget"]

        branches = sorted(b.name for b in repo.branches.each())
        assert branches == ["feature/readme", "main"]
        main = repo.branches.get("main")
        assert main.hash == repo.commits.get(main.hash).hash

        commits = list(repo.commits.each())  # 13 commits: the client follows `next` links
        assert len(commits) == 13
        assert commits[0].message.strip() in ("Guide", "Change app 11")
        assert len({c.hash for c in commits}) == 13

        tag = repo.tags.create("v1.0", main.hash)
        assert tag.name == "v1.0"
        assert [t.name for t in repo.tags.each()] == ["v1.0"]

        assert repo.get_source_file("main", "README.md") == b"# Widget\n\nA widget.\n"
        assert repo.get_source_file("feature/readme", "docs/guide.md") == b"# Guide\n"
        listing = repo.get_source_directory(main.hash)
        assert {v["path"] for v in listing["values"]} == {"README.md", "src"}

    def test_build_statuses_through_the_client(self, cloud: Cloud) -> None:
        repo = cloud.workspaces.get("acme").repositories.get("widget")
        commit = repo.commits.get(repo.branches.get("main").hash)
        commit.add_build(
            "ci",
            url="https://ci.example.test/1",
            description="tests",
            refname="main",
            state="INPROGRESS",
        )
        build = commit.get_build("ci")
        assert build.inprogress and build.key == "ci" and build.refname == "main"
        build.update(state="SUCCESSFUL")
        assert commit.get_build("ci").successful
        assert [b.key for b in commit.builds()] == ["ci"]

    def test_repositories_listing_by_role(self, cloud: Cloud) -> None:
        found = [(r.get_data("full_name"), r.uuid) for r in cloud.repositories.each(role="member")]
        assert [name for name, _ in found] == ["acme/widget"]
        assert cloud.repositories.get("acme", "widget").uuid == found[0][1]
