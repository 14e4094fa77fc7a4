"""atlassian-python-api's Bitbucket ``Cloud`` client against a live appdock on loopback: pull
requests (list with ``q``, get, comments, diffstat, diff, approve, request changes, tasks, merge,
decline) and issues, reading only the links and shapes the client reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from atlassian.bitbucket import Cloud
from requests import HTTPError
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.git import GitRepo
from appdock.models import Event
from tests.e2e.conftest import Git, LiveServer
from tests.factories.account import make_app_password, make_team, make_user
from tests.factories.pullrequest import git_of, make_branch, make_repo

pytestmark = pytest.mark.e2e


@dataclass
class World:
    base: str
    settings: Settings
    git: GitRepo
    alice_uuid: str
    alice_pw: str
    bob_pw: str


@pytest.fixture
def world(live: LiveServer) -> World:
    db: Session = live.sessions()
    try:
        alice = make_user(db, "alice", display_name="Alice Owner")
        bob = make_user(db, "bob", display_name="Bob Member")
        team = make_team(db, "acme", alice, bob)
        repo = make_repo(db, live.settings, alice, workspace=team)
        make_branch(
            live.settings, repo, "feature", {"feature.txt": "one\ntwo\n"}, message="Add feature"
        )
        make_branch(live.settings, repo, "doomed", {"doomed.txt": "x\n"}, message="Doomed")
        return World(
            base=live.base,
            settings=live.settings,
            git=git_of(live.settings, repo),
            alice_uuid=alice.uuid,
            alice_pw=make_app_password(db, alice, "pullrequest:write issue:write account"),
            bob_pw=make_app_password(db, bob, "pullrequest:write issue:write account"),
        )
    finally:
        db.close()


def _cloud(world: World, username: str, password: str) -> Cloud:
    return Cloud(url=world.base + "/api", username=username, password=password, cloud=True)


class TestAtlassianPythonApi:
    def test_pull_request_lifecycle(self, world: World) -> None:
        bob_repo = (
            _cloud(world, "bob", world.bob_pw).workspaces.get("acme").repositories.get("widget")
        )
        pr = bob_repo.pullrequests.create(
            "Add feature",
            "feature",
            destination_branch="main",
            description="Adds **feature.txt**",
            close_source_branch=True,
            reviewers=[world.alice_uuid],
        )
        assert pr.id == 1 and pr.is_open and pr.source_branch == "feature"
        assert pr.destination_branch == "main" and pr.close_source_branch is True
        assert pr.source_commit == world.git.resolve("feature")
        assert pr.author.display_name == "Bob Member"
        assert [r.display_name for r in pr.reviewers()] == ["Alice Owner"]
        assert pr.comment_count == 0 and pr.task_count == 0

        pr.comment("Please review")
        assert [c.raw for c in pr.comments()] == ["Please review"]
        assert [c.user.display_name for c in pr.comments()] == ["Bob Member"]
        (stat,) = list(pr.diffstat())
        assert (stat.new.path, stat.lines_added, stat.has_conflict) == ("feature.txt", 2, False)
        assert "+one" in pr.diff() and "Subject: [PATCH] Add feature" in pr.patch()
        assert [c.hash for c in pr.commits] == [world.git.resolve("feature")]
        task = pr.add_task("Update the changelog")
        assert not task.is_resolved and [t.description for t in pr.tasks()] == [task.description]

        alice = _cloud(world, "alice", world.alice_pw)
        alice_pr = alice.workspaces.get("acme").repositories.get("widget").pullrequests.get(1)
        alice_pr.request_changes()
        alice_pr.unrequest_changes()
        alice_pr.approve()
        participant = next(iter(bob_repo.pullrequests.get(1).participants()))
        assert participant.is_reviewer and participant.has_approved
        assert not participant.has_changes_requested and participant.participated_on
        alice_pr.merge(merge_strategy="squash")

        merged = list(bob_repo.pullrequests.each(q='state="MERGED"'))
        assert [p.id for p in merged] == [1] and merged[0].is_merged
        assert [p.id for p in bob_repo.pullrequests.each()] == []  # none open
        head = world.git.commit("main")
        assert head.message.startswith("Add feature (pull request #1)")
        assert world.git.branch("feature") is None  # close_source_branch

    def test_decline_and_errors(self, world: World) -> None:
        repo = _cloud(world, "bob", world.bob_pw).workspaces.get("acme").repositories.get("widget")
        pr = repo.pullrequests.create("Doomed", "doomed")
        pr.decline()
        assert repo.pullrequests.get(pr.id).is_declined
        with pytest.raises(HTTPError, match="not found"):
            repo.pullrequests.create("Nope", "no-such-branch")

    def test_issues(self, world: World) -> None:
        repo = _cloud(world, "bob", world.bob_pw).workspaces.get("acme").repositories.get("widget")
        issue = repo.issues.create("Widget wobbles", "It *wobbles*", "bug", "critical")
        assert (issue.id, issue.kind, issue.priority, issue.state) == (1, "bug", "critical", "new")
        assert issue.content["html"] == "<p>It <em>wobbles</em></p>\n"
        issue.state = "resolved"
        fetched = repo.issues.get(1)
        assert fetched.state == "resolved" and fetched.votes == 0
        assert [i.title for i in repo.issues.each(q='state="resolved"')] == ["Widget wobbles"]
        fetched.delete()
        assert list(repo.issues.each()) == []


class TestGitPushUpdatesPullRequests:
    def test_pushing_to_the_source_branch_updates_the_pull_request_through_the_hook(
        self, world: World, live: LiveServer, git: Git, tmp_path: Path
    ) -> None:
        """A real ``git push`` runs the post-receive hook in its own process; the push listener
        there moves the pull request's source commit and publishes pullrequest:updated."""
        repo = _cloud(world, "bob", world.bob_pw).workspaces.get("acme").repositories.get("widget")
        pr = repo.pullrequests.create("Add feature", "feature")
        work = tmp_path / "work"
        git("clone", "-q", live.url("/acme/widget.git", "bob", world.bob_pw), str(work))
        git("checkout", "-q", "feature", cwd=work)
        pushed = git.commit(work, {"feature.txt": "one\ntwo\nthree\n"}, "Third line")
        git("push", "-q", "origin", "feature", cwd=work)
        fresh = repo.pullrequests.get(pr.id)
        assert fresh.source_commit == pushed
        assert world.git.ref_value("refs/pullrequests/1/from") == pushed
        db = live.sessions()
        try:
            keys = list(db.scalars(select(Event.key).order_by(Event.id)))
        finally:
            db.close()
        assert keys[-2:] == ["repo:push", "pullrequest:updated"]
        # the hidden ref is not advertised to clients
        refs = git("ls-remote", live.url("/acme/widget.git", "bob", world.bob_pw)).stdout
        assert "refs/pullrequests" not in refs
