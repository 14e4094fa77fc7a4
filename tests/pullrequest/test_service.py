"""PullRequestService beyond the API: following pushes (source moves, destination catches up,
branches deleted), pull requests from forks, and the mergeability preview."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.errors import BadRequest, Conflict
from appdock.git import GitRepo
from appdock.models import Event, User
from appdock.pullrequest.service import PullRequestService
from appdock.repo.context import RepoContext
from appdock.repo.service import RepoService
from appdock.subscribers import register
from tests.factories.account import make_team, make_user
from tests.factories.pullrequest import (
    delete_branch_by_push,
    git_of,
    make_branch,
    make_repo,
    open_pr,
    push_commit,
    subject_of,
    write_commit,
)


@dataclass
class World:
    alice: User
    bob: User
    repo: RepoContext
    git: GitRepo


@pytest.fixture
def world(db: Session, settings: Settings) -> World:
    register()  # the push listener, as create_app and the git hook do
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    team = make_team(db, "acme", alice, bob)
    repo = make_repo(db, settings, alice, workspace=team)
    make_branch(settings, repo, "feature", {"feature.txt": "f\n"})
    return World(alice, bob, repo, git_of(settings, repo))


def _svc(db: Session, settings: Settings) -> PullRequestService:
    return PullRequestService(db, settings)


def _keys(db: Session) -> list[str]:
    return list(db.scalars(select(Event.key).order_by(Event.id)))


class TestFollowingPushes:
    def test_a_push_to_the_source_branch_moves_the_source_commit(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature")
        new = push_commit(
            db, settings, world.repo, {"more.txt": "m\n"}, branch="feature", pusher=world.bob
        )
        pr = _svc(db, settings).get(world.repo, 1)
        assert pr.pr.source_commit == new and pr.pr.state == "OPEN"
        assert world.git.ref_value("refs/pullrequests/1/from") == new
        assert _keys(db)[-2:] == ["repo:push", "pullrequest:updated"]
        updated = db.scalars(select(Event).where(Event.key == "pullrequest:updated")).one()
        assert updated.payload["pullrequest"]["source"]["commit"]["hash"] == new
        assert updated.payload["actor"]["uuid"] == world.bob.uuid
        assert updated.actor_user_id == world.bob.id

    def test_a_push_to_the_destination_is_followed_quietly(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature")
        new = push_commit(
            db, settings, world.repo, {"other.txt": "o\n"}, branch="main", pusher=world.alice
        )
        pr = _svc(db, settings).get(world.repo, 1)
        assert pr.pr.destination_commit == new and pr.pr.state == "OPEN"
        assert "pullrequest:updated" not in _keys(db)

    def test_commits_reaching_the_destination_by_push_mark_it_merged(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        from appdock.git import RefUpdate
        from appdock.repo.push import PushRecord, record_push

        open_pr(db, settings, world.bob, world.repo, "feature")
        old = world.git.resolve("main") or ""
        tip = world.git.resolve("feature") or ""
        world.git.update_ref("refs/heads/main", tip, old)  # a fast-forward push of the branch
        record_push(
            db,
            settings,
            PushRecord(
                world.repo.repo.id, [RefUpdate(old, tip, "refs/heads/main")], world.alice.id
            ),
        )
        db.commit()
        pr = _svc(db, settings).get(world.repo, 1)
        assert pr.pr.state == "MERGED" and pr.pr.closed_by_user_id == world.alice.id
        assert _keys(db)[-1] == "pullrequest:fulfilled"

    def test_deleting_the_source_branch_declines_it(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature")
        delete_branch_by_push(db, settings, world.repo, "feature", world.bob)
        pr = _svc(db, settings).get(world.repo, 1)
        assert pr.pr.state == "DECLINED"
        assert "was deleted" in pr.pr.reason
        assert _keys(db)[-1] == "pullrequest:rejected"
        # its diff survives the branch
        assert [c.new_path for c in _svc(db, settings).diffstat(pr)] == ["feature.txt"]

    def test_deleting_a_branch_whose_work_continues_elsewhere_supersedes_it(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature")
        write_commit(
            settings,
            world.repo,
            {"v2.txt": "2\n"},
            branch="feature-v2",
            parent=world.git.resolve("feature"),
        )
        open_pr(db, settings, world.bob, world.repo, "feature-v2", title="Feature, take two")
        delete_branch_by_push(db, settings, world.repo, "feature", world.bob)
        svc = _svc(db, settings)
        first = svc.get(world.repo, 1)
        assert first.pr.state == "SUPERSEDED"
        assert first.pr.reason == "Superseded by pull request #2."
        assert svc.get(world.repo, 2).pr.state == "OPEN"

    def test_a_failing_listener_never_fails_the_push(
        self,
        db: Session,
        settings: Settings,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        open_pr(db, settings, world.bob, world.repo, "feature")

        def broken(*_: object) -> None:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(PullRequestService, "_source_moved", broken)
        push_commit(db, settings, world.repo, {"m": "m\n"}, branch="feature", pusher=world.bob)
        assert _keys(db)[-1] == "repo:push"


class TestForks:
    @pytest.fixture
    def fork(self, db: Session, settings: Settings, world: World) -> RepoContext:
        eve = make_user(db, "eve")
        svc = RepoService(db, settings)
        svc.update(subject_of(world.alice), world.repo, is_private=False)
        ctx = svc.fork(subject_of(eve), world.repo)
        db.commit()
        main = git_of(settings, ctx).resolve("main")
        write_commit(
            settings,
            ctx,
            {"fork.txt": "from a fork\n"},
            branch="topic",
            parent=main,
            message="Fork",
        )
        return ctx

    def test_a_pull_request_from_a_fork_merges_its_commits(
        self, db: Session, settings: Settings, world: World, fork: RepoContext
    ) -> None:
        eve = db.scalars(select(User).where(User.username == "eve")).one()
        svc = _svc(db, settings)
        ctx, created = svc.create(
            subject_of(eve),
            world.repo,
            title="From my fork",
            source_branch="topic",
            source_repository="eve/widget",
        )
        db.commit()
        assert created and ctx.is_fork and ctx.source_label == "eve/widget:topic"
        tip = git_of(settings, fork).resolve("topic")
        assert world.git.ref_value("refs/pullrequests/1/from") == tip
        merged = svc.merge(subject_of(world.alice), svc.get(world.repo, 1))
        db.commit()
        assert merged.pr.state == "MERGED"
        head = world.git.resolve("main") or ""
        assert world.git.is_ancestor(tip or "", head)
        assert "fork.txt" in {e.path for e in world.git.tree(head)}
        assert world.git.commit(head).message.startswith("Merged in eve/widget:topic")

    def test_a_push_to_the_forks_branch_updates_the_pull_request(
        self, db: Session, settings: Settings, world: World, fork: RepoContext
    ) -> None:
        eve = db.scalars(select(User).where(User.username == "eve")).one()
        _svc(db, settings).create(
            subject_of(eve),
            world.repo,
            title="t",
            source_branch="topic",
            source_repository="eve/widget",
        )
        db.commit()
        new = push_commit(db, settings, fork, {"fork2.txt": "2\n"}, branch="topic", pusher=eve)
        assert _svc(db, settings).get(world.repo, 1).pr.source_commit == new
        assert world.git.ref_value("refs/pullrequests/1/from") == new

    def test_an_unrelated_repository_is_400(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        other = make_repo(db, settings, world.alice, "other")
        make_branch(settings, other, "topic", {"x": "x\n"})
        db.commit()
        with pytest.raises(BadRequest, match="not a fork"):
            _svc(db, settings).create(
                subject_of(world.alice),
                world.repo,
                title="t",
                source_branch="topic",
                source_repository="alice/other",
            )


class TestMergeable:
    def test_reports_conflicts_without_writing_anything(
        self, db: Session, settings: Settings, world: World
    ) -> None:
        write_commit(settings, world.repo, {"app.py": "a\n"}, branch="main")
        write_commit(settings, world.repo, {"app.py": "b\n"}, branch="feature")
        ctx = open_pr(db, settings, world.bob, world.repo, "feature")
        before = world.git.text("count-objects", "-v")
        report = _svc(db, settings).mergeable(ctx)
        assert report["clean"] is False and report["conflicts"] == ["app.py"]
        assert world.git.text("count-objects", "-v") == before
        with pytest.raises(Conflict):
            _svc(db, settings).merge(subject_of(world.alice), ctx)

    def test_a_clean_fast_forward(self, db: Session, settings: Settings, world: World) -> None:
        ctx = open_pr(db, settings, world.bob, world.repo, "feature")
        report = _svc(db, settings).mergeable(ctx)
        assert report == {"clean": True, "conflicts": [], "fast_forward": True, "up_to_date": False}
