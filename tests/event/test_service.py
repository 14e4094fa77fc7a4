"""The outbox: events are rows in the caller's transaction; subscribers share it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appdock.event.service import EventKey, exists, publish, subscribe, subscribers, unsubscribe
from appdock.models import Event, Workspace
from tests.factories.account import make_user


@pytest.fixture
def recorder() -> Iterator[list[tuple[Session, Event]]]:
    seen: list[tuple[Session, Event]] = []

    def fn(session: Session, event: Event) -> None:
        seen.append((session, event))

    subscribe(fn)
    yield seen
    unsubscribe(fn)


def _ws(db: Session) -> Workspace:
    user = make_user(db)
    ws = db.scalar(select(Workspace).where(Workspace.slug == user.username))
    assert ws is not None
    return ws


class TestPublish:
    def test_row_is_written_with_payload_and_seen_by_subscribers(
        self, db: Session, recorder: list[tuple[Session, Event]]
    ) -> None:
        ws = _ws(db)
        event = publish(
            db,
            EventKey.REPO_CREATED,
            workspace_id=ws.id,
            repository_id=7,
            actor_user_id=3,
            payload={"repository": {"name": "x"}},
        )
        assert event.id is not None and event.uuid.startswith("{")
        assert recorder == [(db, event)]
        db.commit()
        row = db.scalar(select(Event).where(Event.id == event.id))
        assert row is not None and row.key == "repo:created"
        assert row.payload == {"repository": {"name": "x"}}
        assert (row.repository_id, row.actor_user_id) == (7, 3)

    def test_rollback_drops_the_event_and_what_subscribers_wrote(self, db: Session) -> None:
        ws = _ws(db)

        def second_event(session: Session, event: Event) -> None:
            if event.key == "repo:created":
                session.add(Event(key="audit", workspace_id=event.workspace_id, payload={}))

        subscribe(second_event)
        try:
            publish(db, EventKey.REPO_CREATED, workspace_id=ws.id, payload={})
            db.flush()
            db.rollback()
        finally:
            unsubscribe(second_event)
        assert db.scalar(select(func.count(Event.id))) == 0

    def test_a_failing_subscriber_aborts_the_change(self, db: Session) -> None:
        ws = _ws(db)

        def broken(session: Session, event: Event) -> None:
            raise RuntimeError("subscriber failed")

        subscribe(broken)
        try:
            with pytest.raises(RuntimeError):
                publish(db, EventKey.REPO_CREATED, workspace_id=ws.id, payload={})
        finally:
            unsubscribe(broken)

    def test_same_uuid_twice_is_refused(self, db: Session) -> None:
        ws = _ws(db)
        publish(db, EventKey.REPO_PUSH, workspace_id=ws.id, payload={}, uuid="{fixed}")
        db.commit()
        assert exists(db, "{fixed}")
        with pytest.raises(IntegrityError):
            publish(db, EventKey.REPO_PUSH, workspace_id=ws.id, payload={}, uuid="{fixed}")


class TestSubscribe:
    def test_subscribe_is_idempotent(self) -> None:
        def fn(session: Session, event: Event) -> None:
            return None

        subscribe(fn)
        subscribe(fn)
        try:
            assert subscribers().count(fn) == 1
        finally:
            unsubscribe(fn)
        assert fn not in subscribers()
