"""REST 2.0 of the app platform.

- ``GET|POST /2.0/account/{account}/addons`` and ``DELETE /2.0/account/{account}/addons/{id}``:
  the development registration API atlassian-connect-express uses (Basic auth with an app
  password of an admin of the account; installing needs development mode on the account).
  ``{account}`` is a username or a workspace slug (or uuid); ``{id}`` an installation id, an app
  key or a clientKey.
- ``PUT /2.0/addon`` and ``DELETE /2.0/addon``: an app updates its descriptor or uninstalls
  itself, with its JWT (connect-spec §1.3).

Requests that call an app (descriptor fetches, lifecycle callbacks) commit what they read first,
so no transaction is open while the app is called (see ``connect.flows``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from appdock.api.pagination import PageDep, Paginated
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.connect import flows, schemas
from appdock.connect.auth import require_installation
from appdock.connect.schemas import AddonInstallBody, AddonUpdateBody, InstallationRead
from appdock.connect.service import ConnectService
from appdock.core.errors import BadRequest, Conflict, Forbidden
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.models import Installation, Workspace

router = APIRouter(tags=["addon"])

AddonsRead = Annotated[Grant[Any], Depends(authorize(Scope.ACCOUNT, authenticated=True))]
AddonsInstall = Annotated[
    Grant[AddonInstallBody],
    Depends(authorize(Scope.ACCOUNT_WRITE, AddonInstallBody, authenticated=True)),
]
AddonsDelete = Annotated[Grant[Any], Depends(authorize(Scope.ACCOUNT_WRITE, authenticated=True))]
AppSubject = Annotated[AuthSubject, Depends(require_installation)]


def _user_id(subject: AuthSubject) -> int:
    if subject.kind == "installation" or subject.user_id is None:
        raise Forbidden("apps cannot manage installations; use a user's app password")
    return subject.user_id


def _read(svc: ConnectService, inst: Installation, ws: Workspace) -> InstallationRead:
    owner = svc.accounts.store.user_by_id(ws.owner_user_id) if ws.owner_user_id else None
    by = (
        svc.accounts.store.user_by_id(inst.installed_by_user_id)
        if inst.installed_by_user_id
        else None
    )
    return schemas.installation_read(inst, ws, owner, by, svc.urls)


@router.get(
    "/account/{account}/addons",
    response_model=Paginated[InstallationRead],
    summary="Apps installed on an account",
)
def list_addons(
    account: str,
    grant: AddonsRead,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[InstallationRead]:
    svc = ConnectService(db, settings.secret, urls)
    ws = svc.admin_account(account, _user_id(grant.subject))
    rows, total = svc.store.list_installations(ws.id, page.offset, page.limit)
    return page.envelope([_read(svc, inst, ws) for inst in rows], total)


@router.post(
    "/account/{account}/addons",
    response_model=InstallationRead,
    status_code=201,
    summary="Install an app from its descriptor URL (development mode)",
)
def install_addon(
    account: str, grant: AddonsInstall, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> InstallationRead:
    svc = ConnectService(db, settings.secret, urls)
    user_id = _user_id(grant.subject)
    ws = svc.admin_account(account, user_id)
    svc.require_dev_mode(ws)
    workspace_id = ws.id
    db.commit()
    fetched = flows.fetch_descriptor(settings, grant.body.url)
    outcome = flows.install(
        db, settings, urls, fetched=fetched, workspace_id=workspace_id, user_id=user_id
    )
    inst = svc.installation(outcome.installation_id)
    ws_row = svc.accounts.store.workspace_by_id(inst.workspace_id)
    assert ws_row is not None
    return _read(svc, inst, ws_row)


@router.delete(
    "/account/{account}/addons/{addon_id}",
    status_code=204,
    summary="Uninstall an app from an account",
)
def uninstall_addon(
    account: str,
    addon_id: str,
    grant: AddonsDelete,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    ws = svc.admin_account(account, _user_id(grant.subject))
    inst = svc.find_installation(ws, addon_id)
    flows.uninstall(db, settings, urls, inst)
    return Response(status_code=204)


def _own_installation(svc: ConnectService, subject: AuthSubject) -> Installation:
    if subject.installation_id is None:
        raise Conflict("the installation of this app is not complete yet")
    return svc.installation(subject.installation_id)


@router.put("/addon", status_code=204, summary="Update the calling app's descriptor")
def update_addon(
    body: AddonUpdateBody, subject: AppSubject, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    inst = _own_installation(svc, subject)
    installation_id = inst.id
    if body.descriptor is not None:
        fetched = flows.check_descriptor(settings, body.descriptor, url=None)
        new_url = body.descriptor_url
    else:
        new_url = (body.descriptor_url or "").strip() or None
        if new_url:
            svc.check_descriptor_url_change(inst, new_url)
        url = new_url or inst.descriptor_url
        if not url:
            raise BadRequest(
                "this installation has no descriptor URL to re-fetch; send the descriptor "
                'inline as {"descriptor": {...}}',
                field="descriptor",
            )
        db.commit()
        fetched = flows.fetch_descriptor(
            settings, url, field="descriptor_url" if new_url else "descriptor"
        )
        inst = svc.installation(installation_id)
    svc.update_descriptor(inst, fetched.descriptor, fetched.raw, descriptor_url=new_url)
    return Response(status_code=204)


@router.delete("/addon", status_code=204, summary="Uninstall the calling app")
def delete_addon(subject: AppSubject, db: DbDep, settings: SettingsDep, urls: UrlsDep) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    inst = _own_installation(svc, subject)
    flows.uninstall(db, settings, urls, inst)
    return Response(status_code=204)
