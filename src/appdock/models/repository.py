from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin, new_uuid


class Repository(TimestampMixin, Base):
    """A git repository owned by a workspace.

    The bare repository lives at ``settings.repos_dir / f"{uuid_hex}.git"`` (the uuid without braces
    and dashes), never under the slug, so a rename touches only this row. ``mainbranch`` is None
    until the first branch is pushed.
    """

    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("workspace_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(40), unique=True, default=new_uuid)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True, nullable=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    is_private: Mapped[bool] = mapped_column(Boolean, default=True)
    fork_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="SET NULL"), index=True, nullable=True
    )
    fork_policy: Mapped[str] = mapped_column(String(32), default="allow_forks")
    mainbranch: Mapped[str | None] = mapped_column(String(255), nullable=True)
    language: Mapped[str] = mapped_column(String(64), default="")
    website: Mapped[str] = mapped_column(String(1024), default="")
    has_issues: Mapped[bool] = mapped_column(Boolean, default=True)
    has_wiki: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def disk_name(self) -> str:
        """The directory name of the bare repository under ``repos_dir``."""
        return self.uuid.strip("{}").replace("-", "") + ".git"
