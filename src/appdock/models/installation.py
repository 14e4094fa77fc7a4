from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin


class Installation(TimestampMixin, Base):
    """A Connect app installed on an account (a team workspace or a user's personal workspace).

    Only installations whose ``installed`` callback succeeded exist: a failed install leaves no
    row. ``shared_secret`` is encrypted at rest (``core.crypto.encrypt``). ``scopes`` are the
    granted scopes (space separated, as declared, not the closure); ``pending_scopes`` are the
    ones a descriptor update asked for and an account admin has not approved yet.
    """

    __tablename__ = "installations"
    __table_args__ = (UniqueConstraint("app_key", "workspace_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_key: Mapped[str] = mapped_column(String(80), index=True)
    client_key: Mapped[str] = mapped_column(String(255), unique=True)
    shared_secret: Mapped[str] = mapped_column(Text)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    installed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255))
    descriptor: Mapped[dict[str, Any]] = mapped_column(JSON)
    descriptor_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    base_url: Mapped[str] = mapped_column(String(2048))
    scopes: Mapped[str] = mapped_column(String(1024))
    pending_scopes: Mapped[str | None] = mapped_column(String(1024), nullable=True)
