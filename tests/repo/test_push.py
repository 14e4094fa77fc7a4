"""repo:push from ref updates: the change flags, commits, main branch, the spool and the hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory
from appdock.git import ZERO, RefUpdate
from appdock.models import Event, Repository
from appdock.repo.hook import post_receive
from appdock.repo.push import (
    PushRecord,
    choose_mainbranch,
    drain_spool,
    hook_env,
    pending_spool,
    record_push,
    write_spool,
)
from tests.factories.account import make_user
from tests.factories.repo import bare, commit_files, make_repo


def push_events(db: Session) -> list[Event]:
    db.rollback()  # end the read snapshot so commits by other sessions show
    return list(db.scalars(select(Event).where(Event.key == "repo:push").order_by(Event.id)))


class TestRecordPush:
    def test_first_push_sets_mainbranch_head_and_created_change(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        dev = commit_files(settings, ctx.repo, {"a": "1"}, branch="dev")
        main = commit_files(settings, ctx.repo, {"b": "1"}, branch="main", parent=dev)
        record = PushRecord(
            ctx.repo.id,
            [RefUpdate(ZERO, dev, "refs/heads/dev"), RefUpdate(ZERO, main, "refs/heads/main")],
            actor_user_id=alice.id,
        )
        event = record_push(db, settings, record)
        db.commit()
        assert event is not None and event.uuid == record.uuid
        repo = db.get(Repository, ctx.repo.id)
        assert repo is not None and repo.mainbranch == "main" and repo.size > 0
        assert bare(settings, ctx.repo).head_branch() == "main"
        changes = event.payload["push"]["changes"]
        assert [c["new"]["name"] for c in changes] == ["dev", "main"]
        assert all(c["created"] and not c["closed"] and not c["forced"] for c in changes)
        assert event.payload["actor"]["username"] == "alice"
        assert event.payload["repository"]["full_name"] == "alice/widget"

    def test_fast_forward_lists_new_commits_newest_first(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        old = commit_files(settings, ctx.repo, {"a": "0"})
        new = [commit_files(settings, ctx.repo, {"a": str(i)}, message=f"c{i}") for i in (1, 2)]
        event = record_push(
            db, settings, PushRecord(ctx.repo.id, [RefUpdate(old, new[-1], "refs/heads/main")])
        )
        assert event is not None
        (change,) = event.payload["push"]["changes"]
        assert [c["hash"] for c in change["commits"]] == new[::-1]
        assert change["old"]["target"]["hash"] == old
        assert not change["forced"] and not change["truncated"]
        assert f"include={new[-1]}" in change["links"]["commits"]["href"]
        assert f"exclude={old}" in change["links"]["commits"]["href"]

    def test_more_than_five_commits_is_truncated(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        old = commit_files(settings, ctx.repo, {"a": "0"})
        for i in range(7):
            head = commit_files(settings, ctx.repo, {"a": str(i + 1)})
        event = record_push(
            db, settings, PushRecord(ctx.repo.id, [RefUpdate(old, head, "refs/heads/main")])
        )
        assert event is not None
        (change,) = event.payload["push"]["changes"]
        assert len(change["commits"]) == 5 and change["truncated"]

    def test_rewritten_history_is_forced(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        base = commit_files(settings, ctx.repo, {"a": "0"})
        old = commit_files(settings, ctx.repo, {"a": "1"})
        new = commit_files(settings, ctx.repo, {"a": "2"}, parent=base)
        event = record_push(
            db, settings, PushRecord(ctx.repo.id, [RefUpdate(old, new, "refs/heads/main")])
        )
        assert event is not None
        assert event.payload["push"]["changes"][0]["forced"] is True

    def test_new_branch_lists_only_commits_no_other_ref_has(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        base = commit_files(settings, ctx.repo, {"a": "0"})
        own = commit_files(settings, ctx.repo, {"f": "1"}, branch="feature", parent=base)
        event = record_push(
            db, settings, PushRecord(ctx.repo.id, [RefUpdate(ZERO, own, "refs/heads/feature")])
        )
        assert event is not None
        assert [c["hash"] for c in event.payload["push"]["changes"][0]["commits"]] == [own]

    def test_commit_author_is_linked_to_the_user_with_that_email(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = commit_files(settings, ctx.repo, {"a": "0"}, author=("Al", "alice@example.test"))
        event = record_push(
            db, settings, PushRecord(ctx.repo.id, [RefUpdate(ZERO, head, "refs/heads/main")])
        )
        assert event is not None
        author = event.payload["push"]["changes"][0]["commits"][0]["author"]
        assert author["raw"] == "Al <alice@example.test>"
        assert author["user"]["uuid"] == alice.uuid

    def test_same_record_twice_yields_one_event(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = commit_files(settings, ctx.repo, {"a": "0"})
        record = PushRecord(ctx.repo.id, [RefUpdate(ZERO, head, "refs/heads/main")])
        assert record_push(db, settings, record) is not None
        db.commit()
        assert record_push(db, settings, record) is None
        assert len(push_events(db)) == 1

    def test_non_branch_refs_are_ignored(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = commit_files(settings, ctx.repo, {"a": "0"})
        record = PushRecord(ctx.repo.id, [RefUpdate(ZERO, head, "refs/notes/commits")])
        assert record_push(db, settings, record) is None

    def test_choose_mainbranch_prefers_main_then_master(self) -> None:
        assert choose_mainbranch(["dev", "master", "main"]) == "main"
        assert choose_mainbranch(["dev", "master"]) == "master"
        assert choose_mainbranch(["dev"]) == "dev"
        assert choose_mainbranch([]) is None


class TestSpool:
    def test_drain_publishes_old_records_once_and_removes_them(
        self, db: Session, settings: Settings, app: object
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = commit_files(settings, ctx.repo, {"a": "0"})
        record = PushRecord(ctx.repo.id, [RefUpdate(ZERO, head, "refs/heads/main")])
        path = write_spool(settings, record)
        factory = app.state.session_factory  # type: ignore[attr-defined]
        assert drain_spool(factory, settings) == 0  # too young: its writer may still be at work
        old = time.time() - 60
        os.utime(path, (old, old))
        assert drain_spool(factory, settings) == 1
        assert pending_spool(settings) == []
        (event,) = push_events(db)
        assert event.uuid == record.uuid
        write_spool(settings, record)  # replayed: already published, dropped quietly
        assert drain_spool(factory, settings, min_age=0) == 1
        assert len(push_events(db)) == 1

    def test_unreadable_spool_file_is_moved_aside(self, settings: Settings, app: object) -> None:
        record = PushRecord(1, [])
        path = write_spool(settings, record)
        path.write_text("{not json")
        drain_spool(app.state.session_factory, settings, min_age=0)  # type: ignore[attr-defined]
        assert not path.exists() and path.with_suffix(".bad").exists()

    def test_record_round_trips_through_json(self) -> None:
        record = PushRecord(3, [RefUpdate(ZERO, "a" * 40, "refs/heads/x")], actor_user_id=5)
        again = PushRecord.from_json(record.to_json())
        assert again == record
        assert json.loads(record.to_json())["updates"] == [[ZERO, "a" * 40, "refs/heads/x"]]


class TestHook:
    def test_hook_publishes_and_leaves_no_spool(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = commit_files(settings, ctx.repo, {"a": "0"})
        env = hook_env(settings, ctx.repo.id, actor_user_id=alice.id)
        proc = subprocess.run(
            [sys.executable, "-m", "appdock", "hook", "post-receive"],
            input=f"{ZERO} {head} refs/heads/main\n",
            text=True,
            capture_output=True,
            env={**os.environ, **env},
            cwd=settings.repos_dir,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        (event,) = push_events(db)
        assert event.actor_user_id == alice.id
        assert pending_spool(settings) == []

    def test_unreachable_database_keeps_the_spool_and_never_fails_the_push(
        self, db: Session, settings: Settings, app: object
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = commit_files(settings, ctx.repo, {"a": "0"})
        env = {
            **hook_env(settings, ctx.repo.id, actor_user_id=alice.id),
            "APPDOCK_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        }
        code = _run_hook_in_process(env, f"{ZERO} {head} refs/heads/main\n")
        assert code == 0
        (path,) = pending_spool(settings)
        assert push_events(db) == []
        assert drain_spool(app.state.session_factory, settings, min_age=0) == 1  # type: ignore[attr-defined]
        (event,) = push_events(db)
        assert event.uuid.strip("{}") == path.stem
        assert event.actor_user_id == alice.id

    def test_without_repository_variable_the_hook_does_nothing(self, settings: Settings) -> None:
        assert post_receive(f"{ZERO} {'a' * 40} refs/heads/main\n", env={}) == 0
        assert pending_spool(settings) == []


def _run_hook_in_process(env: dict[str, str], stdin: str) -> int:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return post_receive(stdin, env=env)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_engine_helper_is_importable() -> None:
    # the hook builds its own engine; the helper must accept a pool size on every backend
    engine = make_engine("sqlite://", pool_size=1)
    make_session_factory(engine)
    engine.dispose()
