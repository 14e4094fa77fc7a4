from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime


class PullRequestParticipant(TimestampMixin, Base):
    """Someone on a pull request: a REVIEWER (named by the author) or a PARTICIPANT (commented,
    approved or requested changes). ``state`` is ``approved``, ``changes_requested`` or None;
    ``participated_on`` is the time of their last approval, change request or comment."""

    __tablename__ = "pullrequest_participants"
    __table_args__ = (UniqueConstraint("pullrequest_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pullrequest_id: Mapped[int] = mapped_column(
        ForeignKey("pullrequests.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="PARTICIPANT")
    state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    participated_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
