"""Request-scoped dependencies: settings, URLs, the database session (committed at the boundary)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.urls import Urls


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_urls(request: Request) -> Urls:
    urls: Urls = request.app.state.urls
    return urls


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on error."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
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
