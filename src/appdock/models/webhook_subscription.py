from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime, new_uuid


class WebhookSubscription(TimestampMixin, Base):
    """Where events go: a repository webhook, a workspace webhook, or one ``webhooks`` module
    entry of a Connect installation (``kind`` = repository | workspace | connect).

    ``url`` is absolute (a Connect module's url is resolved against the app's ``base_url`` when
    the installation is synced). ``secret`` is encrypted at rest (``core.crypto.encrypt``): the
    webhook's signing secret, or for a Connect entry the installation's shared secret (copied, so
    the worker signs without reading another domain's table; re-copied whenever the installation
    changes). ``scopes`` is the closure of an installation's granted scopes (space separated),
    checked again at fan-out. Which events reach a subscription is indexed in ``webhook_routes``.

    ``failing_since`` is the first failure after the last success; a subscription failing for
    ``webhook_disable_after`` is switched off with ``disabled_reason`` set (shown to admins).
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(40), unique=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), index=True, nullable=True
    )
    installation_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    app_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    client_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    base_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    scopes: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(255), default="")
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    disabled_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
