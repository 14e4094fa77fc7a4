"""``AP.request`` on the REST API: the resolver ``create_app`` registers in
``auth.authenticator.APP_SESSION_RESOLVERS["app"]``.

host.js relays an app's ``AP.request`` as a same-origin ``fetch`` to ``/api/...`` with the
viewer's session cookie, ``X-CSRF-Token``, ``X-Appdock-App-Key`` (the app of the iframe that
asked, taken from the bridge's registration of that iframe, never from the app's message) and
``X-Appdock-Client-Key`` (the installation that rendered the iframe). The authenticator has
already checked the session and the CSRF header; this narrows the viewer to the app's grant.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from appdock.auth.authenticator import APP_KEY_HEADER
from appdock.config import Settings
from appdock.connect.ui.grants import CLIENT_KEY_HEADER, GrantService, narrowed_subject
from appdock.core.subject import AuthSubject


def resolve_app_session(
    request: Request, viewer: AuthSubject, session: Session, settings: Settings
) -> AuthSubject:
    assert viewer.user_id is not None
    access = GrantService(session, settings.secret).request_scopes(
        app_key=request.headers.get(APP_KEY_HEADER, ""),
        client_key=request.headers.get(CLIENT_KEY_HEADER, ""),
        user_id=viewer.user_id,
    )
    return narrowed_subject(viewer, access)
