"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

Invariants:
- SQLite runs in WAL mode with foreign keys on and a busy timeout. Transactions that may write
  start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing on a
  read-to-write lock upgrade; read-mostly sessions (``make_session_factory(engine, deferred=True)``,
  used for GET requests and tests) start with a plain deferred ``BEGIN`` so they never hold the
  write lock.
- Sessions never commit on their own: :func:`unit_of_work` (CLI, jobs) or the request dependency
  commits at the boundary; services only flush.
- Side effects outside the database (directories, files) that must follow the transaction's fate
  are registered with :func:`on_commit` / :func:`on_rollback`; a rollback of a savepoint runs the
  rollback actions registered inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger("appdock.db")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take control of transactions from the sqlite3 module so BEGIN IMMEDIATE is ours.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql("BEGIN" if mode == "DEFERRED" else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=20)


def make_session_factory(engine: Engine, *, deferred: bool = False) -> sessionmaker[Session]:
    bind = engine.execution_options(sqlite_begin="DEFERRED") if deferred else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# ---- actions that follow a transaction's outcome -------------------------------------------------
_ACTIONS = "appdock_tx_actions"


@dataclass(eq=False)
class _Action:
    fn: Callable[[], None]
    on: str  # "commit" | "rollback"
    tx: SessionTransaction | None


def _register(session: Session, fn: Callable[[], None], on: str) -> None:
    tx = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_ACTIONS, []).append(_Action(fn, on, tx))


def on_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after the outermost transaction commits; dropped if it rolls back.

    >>> on_commit(session, lambda: shutil.rmtree(trash_dir))
    """
    _register(session, fn, "commit")


def on_rollback(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` if the transaction (or the savepoint) current at registration rolls back.

    >>> on_rollback(session, lambda: shutil.rmtree(new_repo_dir))
    """
    _register(session, fn, "rollback")


def _run(actions: list[_Action]) -> None:
    for action in actions:
        try:
            action.fn()
        except Exception:  # an action failing must not hide the transaction's own outcome
            log.exception("transaction %s action failed", action.on)


def _inside(tx: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ended:
            return True
        tx = tx.parent
    return False


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction decides
    actions: list[_Action] = session.info.pop(_ACTIONS, [])
    _run([a for a in actions if a.on == "commit"])


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    actions: list[_Action] = session.info.get(_ACTIONS, [])
    if not actions:
        return
    ended = [a for a in actions if previous.parent is None or _inside(a.tx, previous)]
    gone = {id(a) for a in ended}
    session.info[_ACTIONS] = [a for a in actions if id(a) not in gone]
    _run([a for a in ended if a.on == "rollback"])
