from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin


class AppGrant(TimestampMixin, Base):
    """A user's consent that an installed app may act for them from its iframes (``AP.request``,
    connect-spec §7.3): the second consent step, after an account admin installed the app.

    One row per (installation, user). ``scopes`` are the scopes the user saw and accepted (space
    separated, as listed on the "Grant access" page, not the closure). The row goes with the
    installation (uninstall) or the user; revoking deletes it.
    """

    __tablename__ = "app_grants"
    __table_args__ = (UniqueConstraint("installation_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[str] = mapped_column(String(1024))
