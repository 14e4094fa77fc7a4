"""Request-scoped dependencies: settings, URLs, the database session (committed at the boundary)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.urls import Urls

log = logging.getLogger("appdock.db")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_urls(request: Request) -> Urls:
    urls: Urls = request.app.state.urls
    return urls


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on error.

    Safe methods get a read-mostly session (on SQLite a deferred BEGIN, so page views never hold
    the write lock); their only writes are bookkeeping (last-used times), which may be dropped
    under write contention rather than fail the read.
    """
    safe = request.method in SAFE_METHODS
    factory = request.app.state.read_session_factory if safe else request.app.state.session_factory
    session: Session = factory()
    try:
        yield session
        try:
            session.commit()
        except OperationalError:
            if not safe:
                raise
            log.warning("dropped bookkeeping writes of %s %s", request.method, request.url.path)
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
UrlsDep = Annotated[Urls, Depends(get_urls)]
# scope="function": the exit code (commit) runs before the response, so a failed commit is a 500
# rather than a 200 for a write that never happened.
DbDep = Annotated[Session, Depends(get_db, scope="function")]
