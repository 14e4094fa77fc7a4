"""Shared CLI plumbing: settings, a committed unit of work, and errors as one line on stderr."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory, unit_of_work
from appdock.core.errors import AppdockError

P = ParamSpec("P")
R = TypeVar("R")


def settings() -> Settings:
    return Settings()


@contextmanager
def session_scope(s: Settings | None = None) -> Iterator[tuple[Session, Settings]]:
    s = s or settings()
    engine = make_engine(s.database_url_resolved)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            yield session, s
    finally:
        engine.dispose()


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every expected failure into ``error: <message>`` on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except AppdockError as exc:
            fail(exc.message)
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(f"database error: {reason} (did you run `appdock db upgrade`?)")
        except SQLAlchemyError as exc:
            fail(f"database error: {str(exc).splitlines()[0]}")
        except (OSError, ValueError) as exc:
            fail(str(exc))
        raise AssertionError("unreachable")

    return wrapper


def echo_err(message: str) -> None:
    print(message, file=sys.stderr)
