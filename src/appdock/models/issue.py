from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime


class Issue(TimestampMixin, Base):
    """An issue in a repository's tracker; ``number`` is its id, unique per repository.

    ``kind``: bug | enhancement | proposal | task; ``priority``: trivial | minor | major |
    critical | blocker; ``state``: new | open | resolved | on hold | invalid | duplicate |
    wontfix | closed (Bitbucket's values). ``edited_at`` changes only when title or content do.
    """

    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("repository_id", "number"),
        Index("ix_issues_repository_id_state", "repository_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="bug")
    priority: Mapped[str] = mapped_column(String(16), default="major")
    state: Mapped[str] = mapped_column(String(16), default="new")
    reporter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    assignee_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    votes: Mapped[int] = mapped_column(Integer, default=0)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
