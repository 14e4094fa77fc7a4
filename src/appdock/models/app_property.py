from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin


class AppProperty(TimestampMixin, Base):
    """An app property (connect-spec §7.5): a JSON object an app stores on a repository, a commit,
    a pull request or a user, under its app key and a name.

    ``target`` names the object (``repository:{id}``, ``commit:{repo id}:{hash}``,
    ``pullrequest:{id}``, ``user:{id}``) and is what the uniqueness holds on; the foreign keys
    only make the property go with its object. Properties belong to the app, not to one
    installation, so they outlive a reinstall like Bitbucket's do.
    """

    __tablename__ = "app_properties"
    __table_args__ = (UniqueConstraint("app_key", "target", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_key: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(160))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), index=True, nullable=True
    )
    pullrequest_id: Mapped[int | None] = mapped_column(
        ForeignKey("pullrequests.id", ondelete="CASCADE"), index=True, nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True
    )
