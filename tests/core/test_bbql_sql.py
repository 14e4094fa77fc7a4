"""The shared ``q=`` comparators, evaluated by SQLite on a small table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    or_,
    select,
)
from sqlalchemy.engine import Connection

from appdock.core import bbql, bbql_sql
from appdock.core.errors import BadRequest

meta = MetaData()
items = Table(
    "items",
    meta,
    Column("id", Integer, primary_key=True),
    Column("title", String),
    Column("state", String),
    Column("done", Boolean),
    Column("at", DateTime),
)
FIELDS = {
    "id": bbql_sql.integer("id", items.c.id),
    "title": bbql_sql.text("title", items.c.title),
    "state": bbql_sql.text("state", items.c.state, upper=True),
    "done": bbql_sql.boolean("done", items.c.done),
    "at": bbql_sql.date("at", items.c.at),
}


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(
            items.insert(),
            [
                {
                    "id": 1,
                    "title": "100% done",
                    "state": "OPEN",
                    "done": True,
                    "at": datetime(2026, 1, 1),
                },
                {
                    "id": 2,
                    "title": "Fix_it",
                    "state": "MERGED",
                    "done": False,
                    "at": datetime(2026, 6, 1),
                },
                {
                    "id": 3,
                    "title": "other",
                    "state": "OPEN",
                    "done": False,
                    "at": datetime(2026, 9, 1),
                },
            ],
        )
        yield c


def ids(conn: Connection, q: str) -> list[int]:
    cond = bbql.to_sql(bbql.parse(q), FIELDS, and_, or_)
    return list(conn.scalars(select(items.c.id).where(cond).order_by(items.c.id)))


def test_comparators_filter_rows(conn: Connection) -> None:
    assert ids(conn, 'title ~ "%"') == [1]  # a literal percent, not a wildcard
    assert ids(conn, 'title ~ "_"') == [2]
    assert ids(conn, 'title !~ "FIX"') == [1, 3]
    assert ids(conn, 'state = "open"') == [1, 3]
    assert ids(conn, "id >= 2 AND done = false") == [2, 3]
    assert ids(conn, 'at > "2026-03-01" OR id = 1') == [1, 2, 3]
    assert ids(conn, 'at < "2026-03-01"') == [1]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ('title > "a"', "operator '>' is not supported for 'title'"),
        ('id = "one"', "'id' compares with a number"),
        ("done = 1", "'done' compares with true or false"),
        ('at > "yesterday"', "'at' compares with an ISO 8601 date"),
        ("done ~ true", "operator '~' is not supported for 'done'"),
    ],
)
def test_bad_comparisons_name_the_field(conn: Connection, q: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        ids(conn, q)
