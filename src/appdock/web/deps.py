"""Dependencies for HTML pages: the viewer from the login cookie, login enforcement, CSRF."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.auth import csrf, web_session
from appdock.auth.deps import get_db, get_settings
from appdock.config import Settings
from appdock.core.subject import AuthSubject

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ViewerView(BaseModel):
    id: int
    username: str
    display_name: str
    email: str
    uuid: str
    is_admin: bool


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def get_viewer(
    request: Request,
    session: Session = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
) -> ViewerView | None:
    user_id = web_session.user_id_from_request(request, session, settings)
    viewer = None
    if user_id is not None:
        user = AccountService(session, settings.secret).user_by_id(user_id)
        viewer = ViewerView(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            uuid=user.uuid,
            is_admin=user.is_admin,
        )
    request.state.viewer = viewer
    return viewer


def require_viewer(request: Request, viewer: ViewerView | None = Depends(get_viewer)) -> ViewerView:
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired("/login?next=" + quote(target, safe=""))
    return viewer


def viewer_subject(viewer: ViewerView | None) -> AuthSubject:
    if viewer is None:
        return AuthSubject.anonymous()
    return AuthSubject(kind="session", user_id=viewer.id, username=viewer.username)


async def csrf_protect(request: Request, settings: Settings = Depends(get_settings)) -> None:
    """Every unsafe request to a page route must carry the CSRF token (form field or header)."""
    if request.method not in UNSAFE:
        return
    submitted = request.headers.get(csrf.HEADER)
    if not submitted:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(csrf.FIELD)
            submitted = value if isinstance(value, str) else None
    csrf.check(request, settings, submitted)


Viewer = Annotated[ViewerView | None, Depends(get_viewer)]
LoggedIn = Annotated[ViewerView, Depends(require_viewer)]
