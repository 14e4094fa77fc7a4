from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime


class PullRequestTask(TimestampMixin, Base):
    """A to-do on a pull request (Bitbucket's ``task``): ``state`` is UNRESOLVED or RESOLVED."""

    __tablename__ = "pullrequest_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pullrequest_id: Mapped[int] = mapped_column(
        ForeignKey("pullrequests.id", ondelete="CASCADE"), index=True
    )
    creator_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    content: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="UNRESOLVED")
    resolved_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
