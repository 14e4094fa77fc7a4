from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, UTCDateTime


class PullRequest(TimestampMixin, Base):
    """A pull request into ``repository_id`` (the destination) from a branch of
    ``source_repository_id`` (the same repository, or a fork of it).

    ``number`` is the id the API and pages show, unique per destination repository.
    ``source_commit`` follows the source branch while the pull request is open; it is also kept
    reachable in the destination repository under ``refs/pullrequests/<number>/from`` so the diff
    survives a deleted branch or fork. ``destination_commit`` follows the destination branch while
    open and is frozen when the pull request closes (it is the base the merge was made on).
    ``state`` is OPEN | MERGED | DECLINED | SUPERSEDED.
    """

    __tablename__ = "pullrequests"
    __table_args__ = (
        UniqueConstraint("repository_id", "number"),
        Index("ix_pullrequests_repository_id_state", "repository_id", "state"),
        Index("ix_pullrequests_source", "source_repository_id", "source_branch", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="OPEN")
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    author_workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="SET NULL"), nullable=True
    )
    source_repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="SET NULL"), nullable=True
    )
    source_branch: Mapped[str] = mapped_column(String(255))
    source_commit: Mapped[str] = mapped_column(String(64))
    destination_branch: Mapped[str] = mapped_column(String(255))
    destination_commit: Mapped[str] = mapped_column(String(64))
    merge_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    close_source_branch: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
