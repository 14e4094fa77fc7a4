"""SQLAlchemy comparators for ``q=`` fields, shared by the stores that filter with ``q=``.

A store maps each field it allows onto one of these and hands the map to :func:`bbql.to_sql`::

    fields = {"title": text("title", Issue.title), "id": integer("id", Issue.number)}
    condition = bbql.to_sql(node, fields, and_, or_)

Every comparator refuses an operator or a value it cannot compare with a :class:`BadRequest` that
names the ``q`` parameter and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, not_

from appdock.core import bbql
from appdock.core.errors import BadRequest

Comparator = Callable[[str, bbql.Value], ColumnElement[bool]]


def unsupported(field: str, op: str) -> BadRequest:
    return BadRequest(f"q: operator {op!r} is not supported for {field!r}", field="q")


def text(field: str, column: Any, *, upper: bool = False) -> Comparator:
    """``=``, ``!=`` exact; ``~``, ``!~`` case-insensitive contains (``%`` and ``_`` literal).
    ``upper`` compares with the value upper-cased (enum-like columns stored upper-case)."""

    def compile_cmp(op: str, value: bbql.Value) -> ColumnElement[bool]:
        wanted = "" if value is None else str(value)
        if upper:
            wanted = wanted.upper()
        if op == "=":
            return column == wanted  # type: ignore[no-any-return]
        if op == "!=":
            return column != wanted  # type: ignore[no-any-return]
        if op in ("~", "!~"):
            cond = func.lower(column).contains(wanted.lower(), autoescape=True)
            return cond if op == "~" else not_(cond)
        raise unsupported(field, op)

    return compile_cmp


def _ordered(field: str, column: Any, value: Any, op: str) -> ColumnElement[bool]:
    ops = {
        "=": column == value,
        "!=": column != value,
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }
    if op not in ops:
        raise unsupported(field, op)
    return ops[op]  # type: ignore[no-any-return]


def integer(field: str, column: Any) -> Comparator:
    def compile_cmp(op: str, value: bbql.Value) -> ColumnElement[bool]:
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest(f"q: {field!r} compares with a number", field="q")
        return _ordered(field, column, value, op)

    return compile_cmp


def date(field: str, column: Any) -> Comparator:
    def compile_cmp(op: str, value: bbql.Value) -> ColumnElement[bool]:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise BadRequest(f"q: {field!r} compares with an ISO 8601 date", field="q") from exc
        return _ordered(field, column, when, op)

    return compile_cmp


def boolean(field: str, column: Any) -> Comparator:
    def compile_cmp(op: str, value: bbql.Value) -> ColumnElement[bool]:
        if not isinstance(value, bool):
            raise BadRequest(f"q: {field!r} compares with true or false", field="q")
        if op == "=":
            return column.is_(value)  # type: ignore[no-any-return]
        if op == "!=":
            return column.is_not(value)  # type: ignore[no-any-return]
        raise unsupported(field, op)

    return compile_cmp


def related(
    field: str, fk: Any, ids_where: Callable[[ColumnElement[bool]], Select[Any]], attr: Any
) -> Comparator:
    """A field of a related row (``author.uuid``): ``fk IN (ids_where(attr op value))``;
    ``= null`` and ``!= null`` test the foreign key itself."""

    def compile_cmp(op: str, value: bbql.Value) -> ColumnElement[bool]:
        if value is None and op in ("=", "!="):
            return fk.is_(None) if op == "=" else fk.is_not(None)  # type: ignore[no-any-return]
        inner = text(field, attr)(op.replace("!", ""), value)
        cond: ColumnElement[bool] = fk.in_(ids_where(inner))
        return not_(cond) if op.startswith("!") else cond

    return compile_cmp
