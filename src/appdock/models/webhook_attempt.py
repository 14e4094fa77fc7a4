from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, UTCDateTime


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, as it happened: when, how long, the request headers sent
    (the body is the delivery's, rebuilt byte for byte from the event), and the response status,
    headers and first 4 KB of body, or the network error. ``outcome`` is ``delivered``,
    ``retry`` (will be tried again), ``failed`` (final) or ``disabled`` (410: subscription off)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    url: Mapped[str] = mapped_column(String(2048))
    request_headers: Mapped[dict[str, str]] = mapped_column(JSON)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
