from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from appdock.core.time import utc_now
from appdock.models.base import Base, UTCDateTime


class IssueChange(Base):
    """An immutable record of one edit of an issue: ``changes`` maps a field to
    ``{"old": str, "new": str}`` (strings, as Bitbucket keeps them); ``comment_id`` is the
    comment made with the change, if any."""

    __tablename__ = "issue_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("issue_comments.id", ondelete="SET NULL"), nullable=True
    )
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
