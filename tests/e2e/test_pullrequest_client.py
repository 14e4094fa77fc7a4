"""atlassian-python-api's Bitbucket ``Cloud`` client against a live appdock on loopback: pull
requests (list with ``q``, get, comments, diffstat, diff, approve, request changes, tasks, merge,
decline) and issues, reading only the links and shapes the client reads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from atlassian.bitbucket import Cloud
from requests import HTTPError
from sqlalchemy.orm import Session

from appdock.app import create_app
from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory
from appdock.git import GitRepo
from tests.factories.account import make_app_password, make_team, make_user
from tests.factories.pullrequest import git_of, make_branch, make_repo

pytestmark = pytest.mark.e2e


@dataclass
class Live:
    base: str
    settings: Settings
    git: GitRepo
    alice_uuid: str
    alice_pw: str
    bob_pw: str


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    served = settings.model_copy(update={"base_url": base})
    engine = make_engine(served.database_url_resolved)
    db: Session = make_session_factory(engine)()
    try:
        alice = make_user(db, "alice", display_name="Alice Owner")
        bob = make_user(db, "bob", display_name="Bob Member")
        team = make_team(db, "acme", alice, bob)
        repo = make_repo(db, served, alice, workspace=team)
        make_branch(served, repo, "feature", {"feature.txt": "one\ntwo\n"}, message="Add feature")
        make_branch(served, repo, "doomed", {"doomed.txt": "x\n"}, message="Doomed")
        world = Live(
            base=base,
            settings=served,
            git=git_of(served, repo),
            alice_uuid=alice.uuid,
            alice_pw=make_app_password(db, alice, "pullrequest:write issue:write account"),
            bob_pw=make_app_password(db, bob, "pullrequest:write issue:write account"),
        )
    finally:
        db.close()
        engine.dispose()
    app = create_app(served)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield world
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.engine.dispose()


def _cloud(live: Live, username: str, password: str) -> Cloud:
    return Cloud(url=live.base + "/api", username=username, password=password, cloud=True)


class TestAtlassianPythonApi:
    def test_pull_request_lifecycle(self, live: Live) -> None:
        bob_repo = (
            _cloud(live, "bob", live.bob_pw).workspaces.get("acme").repositories.get("widget")
        )
        pr = bob_repo.pullrequests.create(
            "Add feature",
            "feature",
            destination_branch="main",
            description="Adds **feature.txt**",
            close_source_branch=True,
            reviewers=[live.alice_uuid],
        )
        assert pr.id == 1 and pr.is_open and pr.source_branch == "feature"
        assert pr.destination_branch == "main" and pr.close_source_branch is True
        assert pr.source_commit == live.git.resolve("feature")
        assert pr.author.display_name == "Bob Member"
        assert [r.display_name for r in pr.reviewers()] == ["Alice Owner"]
        assert pr.comment_count == 0 and pr.task_count == 0

        pr.comment("Please review")
        assert [c.raw for c in pr.comments()] == ["Please review"]
        assert [c.user.display_name for c in pr.comments()] == ["Bob Member"]
        (stat,) = list(pr.diffstat())
        assert (stat.new.path, stat.lines_added, stat.has_conflict) == ("feature.txt", 2, False)
        assert "+one" in pr.diff() and "Subject: [PATCH] Add feature" in pr.patch()
        assert [c.hash for c in pr.commits] == [live.git.resolve("feature")]
        task = pr.add_task("Update the changelog")
        assert not task.is_resolved and [t.description for t in pr.tasks()] == [task.description]

        alice = _cloud(live, "alice", live.alice_pw)
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
        head = live.git.commit("main")
        assert head.message.startswith("Add feature (pull request #1)")
        assert live.git.branch("feature") is None  # close_source_branch

    def test_decline_and_errors(self, live: Live) -> None:
        repo = _cloud(live, "bob", live.bob_pw).workspaces.get("acme").repositories.get("widget")
        pr = repo.pullrequests.create("Doomed", "doomed")
        pr.decline()
        assert repo.pullrequests.get(pr.id).is_declined
        with pytest.raises(HTTPError, match="not found"):
            repo.pullrequests.create("Nope", "no-such-branch")

    def test_issues(self, live: Live) -> None:
        repo = _cloud(live, "bob", live.bob_pw).workspaces.get("acme").repositories.get("widget")
        issue = repo.issues.create("Widget wobbles", "It *wobbles*", "bug", "critical")
        assert (issue.id, issue.kind, issue.priority, issue.state) == (1, "bug", "critical", "new")
        assert issue.content["html"] == "<p>It <em>wobbles</em></p>\n"
        issue.state = "resolved"
        fetched = repo.issues.get(1)
        assert fetched.state == "resolved" and fetched.votes == 0
        assert [i.title for i in repo.issues.each(q='state="resolved"')] == ["Widget wobbles"]
        fetched.delete()
        assert list(repo.issues.each()) == []
