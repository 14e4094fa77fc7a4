from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from appdock.core.time import utc_now
from appdock.models.base import Base, UTCDateTime, new_uuid


class Event(Base):
    """A domain event in the outbox, written in the same transaction as the change it records.

    ``payload`` is the event body in Bitbucket's webhook shape (the ``data`` part of a Connect
    delivery), built once. The row has no foreign keys on purpose: it is history and outlives the
    repository or user it mentions (``repo:deleted`` names a repository that is gone).
    ``uuid`` is the event's stable identity, so replaying a spooled push is idempotent.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(40), unique=True, default=new_uuid)
    key: Mapped[str] = mapped_column(String(64), index=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
    repository_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
