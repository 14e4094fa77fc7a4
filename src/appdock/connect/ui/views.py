"""Pages and endpoints of the iframe bridge's back end (the host page's same-origin calls).

* ``GET/POST /site/connect/grant?client_key=…&next=…``: the "Grant access" page, the second
  consent step (:mod:`appdock.connect.ui.grants`): what the app may do as you, in plain words;
  the form carries the CSRF token;
* ``GET /account/settings/app-authorizations``: the apps you granted, each with Revoke
  (``POST …/{grant_id}/revoke``);
* ``POST /site/connect/proxy/{app_key}/{path}``: ``AP.proxyRequest`` (:mod:`.proxy`).

Everything an app wrote reaches templates as plain strings (escaped by Jinja).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from appdock.api.errors import appdock_error_response
from appdock.auth.authenticator import APP_KEY_HEADER
from appdock.auth.deps import DbDep, SettingsDep
from appdock.connect.ui.grants import (
    AUTHORIZATIONS_PATH,
    CLIENT_KEY_HEADER,
    GRANT_PATH,
    AppAccess,
    GrantService,
    safe_next,
)
from appdock.connect.ui.page import PROXY_BASE
from appdock.connect.ui.proxy import (
    MAX_BODY,
    PROXY_HEADER,
    RETURNED_HEADERS,
    ProxyCall,
    ProxyService,
)
from appdock.connect.views import ScopeView
from appdock.core.errors import AppdockError, Forbidden
from appdock.core.http import OutboundClient, OutboundError
from appdock.core.scopes import DESCRIPTIONS, Scope, closure
from appdock.core.time import isoformat
from appdock.web.deps import LoggedIn, Viewer, csrf_protect
from appdock.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
PROXY_TIMEOUT = 10.0

ACCOUNT_NAV = [
    {"key": "app-authorizations", "label": "App authorizations", "href": AUTHORIZATIONS_PATH},
]


class AccessView(BaseModel):
    grant_id: int | None
    client_key: str
    app_key: str
    app_name: str
    description: str
    vendor_name: str
    base_url: str
    account: str
    personal: bool
    requested: list[ScopeView]
    implied: list[ScopeView]
    granted: list[ScopeView]
    added: list[ScopeView]
    regrant: bool
    granted_on: str | None


def _lines(scopes: frozenset[Scope]) -> list[ScopeView]:
    return [ScopeView(value=s.value, text=DESCRIPTIONS[s]) for s in sorted(scopes)]


def _view(access: AppAccess) -> AccessView:
    return AccessView(
        grant_id=access.grant_id,
        client_key=access.client_key,
        app_key=access.app_key,
        app_name=access.app_name,
        description=access.description,
        vendor_name=access.vendor_name,
        base_url=access.base_url,
        account=access.account_name if access.account_kind != "personal" else "your account",
        personal=access.account_kind == "personal",
        requested=_lines(access.requested),
        implied=_lines(closure(access.requested) - access.requested),
        granted=_lines(access.granted or frozenset()),
        added=_lines(access.added),
        regrant=access.granted is not None and bool(access.added),
        granted_on=isoformat(access.granted_at) if access.granted_at else None,
    )


def _grant_page(request: Request, access: AppAccess, next_url: str) -> Response:
    return render(
        request,
        "connect/grant.html",
        {"app": _view(access), "next": next_url, "action": GRANT_PATH},
    )


@router.get(GRANT_PATH, response_class=HTMLResponse)
def grant_form(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    client_key: str = "",
    next: str = "",
) -> Response:
    access = GrantService(db, settings.secret).access(client_key, viewer.id)
    return _grant_page(request, access, safe_next(next))


@router.post(GRANT_PATH)
def grant_submit(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    client_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "grant",
) -> Response:
    svc = GrantService(db, settings.secret)
    back = safe_next(next)
    if action != "grant":
        access = svc.access(client_key, viewer.id)  # still 404 for installations not yours
        flash(request, f"{access.app_name} was not given access.", "info")
        return redirect(request, back)
    access = svc.grant(client_key, viewer.id)
    flash(request, f"{access.app_name} may now act for you within the access listed.")
    return redirect(request, back)


@router.get(AUTHORIZATIONS_PATH, response_class=HTMLResponse)
def authorizations(
    request: Request, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    rows = GrantService(db, settings.secret).authorizations(viewer.id)
    context: dict[str, Any] = {"active": "app-authorizations", "apps": [_view(a) for a in rows]}
    return render(request, "connect/authorizations.html", context)


@router.post(AUTHORIZATIONS_PATH + "/{grant_id}/revoke")
def revoke(
    request: Request, grant_id: int, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    name = GrantService(db, settings.secret).revoke(grant_id, viewer.id)
    flash(request, f"{name} may no longer act for you.")
    return redirect(request, AUTHORIZATIONS_PATH)


# -- AP.proxyRequest -------------------------------------------------------------------------------


def _proxy_error(exc: AppdockError) -> JSONResponse:
    """The REST API's error envelope, marked as the proxy's own answer (host.js tells it apart
    from the app's answers and from a host without a proxy endpoint)."""
    response = appdock_error_response(exc)
    response.headers[PROXY_HEADER] = "error"
    return response


@router.post(PROXY_BASE + "/{app_key}/{path:path}")
def proxy(
    request: Request,
    app_key: str,
    path: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    envelope: Annotated[Any, Body()] = None,
) -> Response:
    """Sync on purpose: the call to the app blocks a worker thread, never the event loop."""
    try:
        if viewer is None:
            raise Forbidden("proxyRequest needs a signed-in viewer; sign in (again)")
        if request.headers.get(APP_KEY_HEADER) != app_key:
            raise Forbidden(f"{APP_KEY_HEADER} must name the app of the URL ({app_key!r})")
        call = ProxyCall.parse(envelope)
        plan = ProxyService(db, settings).prepare(
            app_key=app_key,
            client_key=request.headers.get(CLIENT_KEY_HEADER, ""),
            user_id=viewer.id,
            call=call,
        )
        db.commit()  # nothing is held open while the app answers
        with OutboundClient(
            settings.allow_private_app_urls, timeout=PROXY_TIMEOUT, max_bytes=MAX_BODY
        ) as client:
            answer = client.send(
                plan.method,
                plan.url,
                purpose=f"{plan.app_name} proxy destination",
                headers=plan.headers,
                content=plan.content,
            )
    except OutboundError as exc:
        return _proxy_error(exc)
    except AppdockError as exc:
        return _proxy_error(exc)
    headers = {PROXY_HEADER: "1"}
    headers.update({k: v for k, v in answer.headers.items() if k.lower() in RETURNED_HEADERS})
    return Response(
        answer.body,
        status_code=answer.status,
        media_type=answer.headers.get("content-type") or "application/octet-stream",
        headers=headers,
    )
