from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin


class PullRequestComment(TimestampMixin, Base):
    """A comment on a pull request; inline when ``inline_path`` is set (``inline_from`` is a
    line of the old side, ``inline_to`` of the new side). Deleting keeps the row with
    ``deleted`` set so replies keep their parent."""

    __tablename__ = "pullrequest_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pullrequest_id: Mapped[int] = mapped_column(
        ForeignKey("pullrequests.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    author_workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="SET NULL"), nullable=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("pullrequest_comments.id", ondelete="SET NULL"), nullable=True
    )
    content: Mapped[str] = mapped_column(Text, default="")
    inline_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    inline_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inline_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
