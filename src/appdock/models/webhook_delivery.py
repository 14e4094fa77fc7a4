from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from appdock.core.time import utc_now
from appdock.models.base import Base, UTCDateTime, new_uuid


class WebhookDelivery(Base):
    """One event to one subscription, written in the event's transaction (the outbox row).

    ``uuid`` is the delivery id sent as ``webhook-id`` and ``X-Request-UUID``; it never changes,
    across retries and redeliveries. ``status``: ``pending`` (due at ``next_attempt_at``),
    ``delivered`` or ``failed``. A worker claims a due row by setting ``locked_until`` (its lease)
    and ``locked_by``; a worker that dies leaves the lease to expire and the row is claimed again,
    so a delivery is sent at least once. ``attempts`` counts every attempt ever made (the
    ``X-Attempt-Number`` of the next is ``attempts + 1``); ``retries`` counts failed attempts of
    the current run (the position in the retry schedule; a redelivery starts a new run).
    Test deliveries (``is_test``) carry their own ``test_payload`` and no event.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(40), unique=True, default=new_uuid)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    event_key: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    test_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
