"""Every query on the ``events`` outbox."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.models import Event


class EventStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: Event) -> Event:
        self.session.add(event)
        self.session.flush()
        return event

    def by_uuid(self, uuid: str) -> Event | None:
        return self.session.scalar(select(Event).where(Event.uuid == uuid))

    def list(
        self,
        *,
        key: str | None = None,
        repository_id: int | None = None,
        workspace_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> Sequence[Event]:
        stmt = select(Event).where(Event.id > after_id)
        if key is not None:
            stmt = stmt.where(Event.key == key)
        if repository_id is not None:
            stmt = stmt.where(Event.repository_id == repository_id)
        if workspace_id is not None:
            stmt = stmt.where(Event.workspace_id == workspace_id)
        return self.session.scalars(stmt.order_by(Event.id).limit(limit)).all()
