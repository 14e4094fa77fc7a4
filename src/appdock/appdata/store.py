"""Every query of app properties and linker values."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from appdock.models import AppLinkerValue, AppProperty


class AppDataStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    # properties ----------------------------------------------------------------------------------
    def property(self, app_key: str, target: str, name: str) -> AppProperty | None:
        return self.session.scalar(
            select(AppProperty).where(
                AppProperty.app_key == app_key,
                AppProperty.target == target,
                AppProperty.name == name,
            )
        )

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    def delete(self, row: object) -> None:
        self.session.delete(row)
        self.session.flush()

    # linker values -------------------------------------------------------------------------------
    def linker_values(
        self, installation_id: int, linker_key: str, offset: int = 0, limit: int | None = None
    ) -> tuple[list[AppLinkerValue], int]:
        query = select(AppLinkerValue).where(
            AppLinkerValue.installation_id == installation_id,
            AppLinkerValue.linker_key == linker_key,
        )
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(query.order_by(AppLinkerValue.id).offset(offset).limit(limit))
        return list(rows), total

    def linker_values_for(self, pairs: Sequence[tuple[int, str]]) -> list[AppLinkerValue]:
        """Every registered value of the ``(installation id, linker key)`` pairs, in one query."""
        if not pairs:
            return []
        query = select(AppLinkerValue).where(
            tuple_(AppLinkerValue.installation_id, AppLinkerValue.linker_key).in_(list(pairs))
        )
        return list(self.session.scalars(query.order_by(AppLinkerValue.id)))

    def linker_value(
        self, installation_id: int, linker_key: str, value_id: int
    ) -> AppLinkerValue | None:
        return self.session.scalar(
            select(AppLinkerValue).where(
                AppLinkerValue.installation_id == installation_id,
                AppLinkerValue.linker_key == linker_key,
                AppLinkerValue.id == value_id,
            )
        )

    def linker_value_by_text(
        self, installation_id: int, linker_key: str, value: str
    ) -> AppLinkerValue | None:
        return self.session.scalar(
            select(AppLinkerValue).where(
                AppLinkerValue.installation_id == installation_id,
                AppLinkerValue.linker_key == linker_key,
                AppLinkerValue.value == value,
            )
        )

    def clear_linker(self, installation_id: int, linker_key: str) -> None:
        self.session.execute(
            delete(AppLinkerValue).where(
                AppLinkerValue.installation_id == installation_id,
                AppLinkerValue.linker_key == linker_key,
            )
        )
        self.session.flush()
