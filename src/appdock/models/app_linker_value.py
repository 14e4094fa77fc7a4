from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from appdock.models.base import Base, TimestampMixin


class AppLinkerValue(TimestampMixin, Base):
    """A value an app registered for one of its linkers (``/2.0/addon/linkers/{key}/values``);
    a linker whose regex holds ``(?K)`` links only these. Gone with the installation."""

    __tablename__ = "app_linker_values"
    __table_args__ = (UniqueConstraint("installation_id", "linker_key", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    linker_key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
