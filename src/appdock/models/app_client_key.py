from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime


class AppClientKey(TimestampMixin, Base):
    """What outlives an installation of an app on an account: its clientKey (stable across
    reinstalls) and the last shared secret the app received (the next ``installed`` callback,
    even after an uninstall, is signed with it; connect-spec §5.2).

    ``attempt_*`` describe an install whose ``installed`` callback is in flight: the app may call
    the REST API with the new secret before it answers (Sentry does). They expire on their own.
    All secrets are encrypted at rest.
    """

    __tablename__ = "app_client_keys"
    __table_args__ = (UniqueConstraint("app_key", "workspace_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_key: Mapped[str] = mapped_column(String(80))
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    client_key: Mapped[str] = mapped_column(String(255), unique=True)
    last_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt_scopes: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    attempt_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
