from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from appdock import subscribers
from appdock.config import Settings
from appdock.core.db import make_engine, make_session_factory
from appdock.webhook.worker import Worker
from tests.webhook.receiver import Receiver

FAST_SCHEDULE = [0.05, 0.05, 0.05, 0.05, 0.05]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    """A session on the test database with the event subscribers registered (as in every
    process that publishes events). Deferred BEGIN, so reading never holds SQLite's write lock;
    helpers commit after reading so no snapshot outlives a check."""
    subscribers.register()
    engine = make_engine(settings.database_url_resolved)
    s = make_session_factory(engine, deferred=True)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()
        engine.dispose()


@contextmanager
def writing(settings: Settings) -> Iterator[Session]:
    """A session that writes while a worker runs, as the application does: ``BEGIN IMMEDIATE``
    on SQLite, so it waits for the worker's write lock instead of failing at once (a deferred
    read transaction cannot wait to become a writer); commits at the end of the block."""
    engine = make_engine(settings.database_url_resolved)
    s = make_session_factory(engine)()
    try:
        yield s
        s.commit()
    finally:
        s.close()
        engine.dispose()


def fast(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_retry_schedule": FAST_SCHEDULE,
        "webhook_poll_interval": 0.05,
        "webhook_timeout": 2.0,
        "webhook_lease": 30.0,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@contextmanager
def running_worker(settings: Settings, **kw: Any) -> Iterator[Worker]:
    """A worker on its own thread and loop for the duration of the block."""
    worker = Worker(settings, **kw)
    thread = threading.Thread(target=lambda: asyncio.run(worker.run()), daemon=True)
    thread.start()
    assert worker.started.wait(10), "the worker did not start"
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(30)
        assert not thread.is_alive(), "the worker did not stop"


WorkerRunner = Callable[..., Any]


@pytest.fixture
def worker_for() -> WorkerRunner:
    return running_worker
