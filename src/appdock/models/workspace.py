from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, new_uuid


class Workspace(TimestampMixin, Base):
    """An account that owns repositories: a team, or a user's personal workspace.

    A personal workspace shares its slug and uuid with its user, as on Bitbucket; Connect payloads
    call its principal type ``user`` and a team's ``team``.
    """

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(40), unique=True, default=new_uuid)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # "personal" | "team"
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    is_private: Mapped[bool] = mapped_column(Boolean, default=True)
    dev_mode: Mapped[bool] = mapped_column(Boolean, default=False)
