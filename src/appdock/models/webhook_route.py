from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base


class WebhookRoute(Base):
    """The fan-out index: "events ``event_key`` (or ``*``) in scope (``scope_kind``,
    ``scope_id``) go to ``subscription_id``".

    ``scope_kind`` is ``repository`` (a repository webhook), ``workspace`` (a workspace webhook or
    a team installation: every repository of the workspace) or ``user`` (a user installation:
    every repository that user can reach). Rows are derived from subscriptions and rewritten
    whenever one changes, so finding an event's subscribers is an index lookup on
    (scope_kind, event_key, scope_id) whose cost does not grow with the number of installations.
    """

    __tablename__ = "webhook_routes"
    __table_args__ = (
        UniqueConstraint("subscription_id", "scope_kind", "scope_id", "event_key"),
        Index("ix_webhook_routes_lookup", "scope_kind", "event_key", "scope_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(Integer)
    event_key: Mapped[str] = mapped_column(String(64))
