"""Test fixtures: every database test runs on SQLite and, when APPDOCK_TEST_DATABASE_URL is set,
on PostgreSQL too. An unreachable PostgreSQL fails the run; it never skips.

Each backend gets a fresh database migrated with Alembic once per session; each test starts from
empty tables and gets its own DATA_DIR.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core import crypto
from appdock.core.db import make_engine, make_session_factory
from appdock.migrate import upgrade
from appdock.models import Base

PG_URL = os.environ.get("APPDOCK_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
BASE_URL = "http://testserver"


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> None:
    # Argon2 at production cost would dominate the suite; the algorithm stays the same.
    crypto._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _fresh_postgres_database(url: str) -> tuple[str, str]:
    import psycopg

    parts = urlsplit(url)
    name = "adk_test_" + secrets.token_hex(4)
    plain = parts._replace(scheme="postgresql").geturl()
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"APPDOCK_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}"
        ) from exc
    return parts._replace(path="/" + name).geturl(), name


def _drop_postgres_database(url: str, name: str) -> None:
    import psycopg

    plain = urlsplit(url)._replace(scheme="postgresql").geturl()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "appdock.db"
        url = f"sqlite:///{path}"
        upgrade(Settings(database_url=url, data_dir=path.parent), "head")
        yield url
        return
    url, name = _fresh_postgres_database(PG_URL)
    upgrade(Settings(database_url=url), "head")
    yield url
    _drop_postgres_database(PG_URL, name)


def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
            if url.startswith("postgresql"):
                conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
    finally:
        engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    _empty_tables(database_url)
    data = tmp_path / "data"
    data.mkdir()
    return Settings(
        database_url=database_url,
        data_dir=data,
        base_url=BASE_URL,
        secret_key="test-secret-" + "x" * 20,
        allow_private_app_urls="loopback",
        webhook_worker=False,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    from appdock.app import create_app

    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as c:
        yield c
        # The lifespan's shutdown disposes the engine: a connection the test's session still
        # holds then would be orphaned (on PostgreSQL a ResourceWarning in some later test).
        db.rollback()


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    """A session on the app's database; tests commit what they arrange."""
    session = make_session_factory(app.state.engine, deferred=True)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
