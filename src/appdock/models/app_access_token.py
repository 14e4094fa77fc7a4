from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime


class AppAccessToken(TimestampMixin, Base):
    """An installation access token from the JWT bearer grant (connect-spec §7.2) and its refresh
    token. Only HMACs of both secrets are kept. The row belongs to the installation: uninstalling
    deletes it (ON DELETE CASCADE), so from that commit on neither token resolves."""

    __tablename__ = "app_access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(1024))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
