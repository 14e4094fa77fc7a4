"""Pages of the app platform: installed apps and "Find apps" (the Marketplace) in account and
workspace settings, the install consent dialog (``/site/addons/authorize``), the uninstall
confirmation, the approval of a scope upgrade, and an app's configure page.

Everything an app wrote (name, description, vendor, its answers) reaches templates as plain
strings and is escaped by Jinja.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel

from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.config import Settings
from appdock.connect import flows
from appdock.connect.descriptor import Descriptor
from appdock.connect.marketplace import MarketplaceService
from appdock.connect.service import ConnectService, descriptor_of, granted_scopes
from appdock.connect.ui import pages as connect_pages
from appdock.core.errors import AppdockError, BadRequest, NotFound, UpstreamError
from appdock.core.scopes import ALL_SCOPES, DESCRIPTIONS, Scope, closure, parse_scopes
from appdock.core.time import isoformat
from appdock.models import Installation, Workspace
from appdock.web.deps import LoggedIn, csrf_protect
from appdock.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

ACCOUNT_NAV = [
    {"key": "addons", "label": "Installed apps", "href": "/account/settings/addons"},
    {"key": "marketplace", "label": "Find apps", "href": "/account/settings/addons/marketplace"},
]
WORKSPACE_NAV = [
    {"key": "addons", "label": "Installed apps", "href": "/workspace/settings/addons"},
    {"key": "marketplace", "label": "Find apps", "href": "/workspace/settings/addons/marketplace"},
]


class ScopeView(BaseModel):
    value: str
    text: str


class InstallationView(BaseModel):
    id: int
    app_key: str
    name: str
    description: str
    vendor_name: str
    base_url: str
    all_scopes: bool
    scopes: list[ScopeView]
    pending: list[ScopeView]
    installed_by: str | None
    installed_on: str | None
    configure_href: str | None


class ListingView(BaseModel):
    app_key: str
    name: str
    description: str
    vendor_name: str
    all_scopes: bool
    scopes: list[ScopeView]
    installed: bool


class TargetView(BaseModel):
    slug: str
    name: str
    kind: str
    eligible: bool
    reason: str
    installed: bool


class WorkspaceRef(BaseModel):
    slug: str
    name: str
    kind: str
    dev_mode: bool


def _scope_views(scopes: frozenset[Scope] | set[Scope]) -> list[ScopeView]:
    return [ScopeView(value=s.value, text=DESCRIPTIONS[s]) for s in sorted(scopes)]


def _settings_href(ws: Workspace) -> str:
    if ws.kind == "personal":
        return "/account/settings/addons"
    return f"/{ws.slug}/workspace/settings/addons"


def _installation_view(svc: ConnectService, inst: Installation) -> InstallationView:
    raw = inst.descriptor
    vendor = raw.get("vendor") if isinstance(raw.get("vendor"), dict) else {}
    by = (
        svc.accounts.store.user_by_id(inst.installed_by_user_id)
        if inst.installed_by_user_id
        else None
    )
    granted = granted_scopes(inst)
    pending = parse_scopes(inst.pending_scopes) if inst.pending_scopes else frozenset()
    added = closure(pending) - closure(granted) if pending else frozenset()
    has_configure = isinstance(raw.get("modules"), dict) and bool(
        raw["modules"].get("configurePage")
    )
    description = raw.get("description")
    return InstallationView(
        id=inst.id,
        app_key=inst.app_key,
        name=inst.name,
        description=description if isinstance(description, str) else "",
        vendor_name=str((vendor or {}).get("name") or ""),
        base_url=inst.base_url,
        all_scopes=raw.get("scopes") is None,
        scopes=_scope_views(granted),
        pending=_scope_views(set(added)),
        installed_by=by.username if by else None,
        installed_on=isoformat(inst.created_at),
        configure_href=(
            f"/site/addons/installations/{inst.id}/configure" if has_configure else None
        ),
    )


def _ws_ref(ws: Workspace) -> WorkspaceRef:
    return WorkspaceRef(slug=ws.slug, name=ws.name, kind=ws.kind, dev_mode=ws.dev_mode)


def _nav_context(ws: Workspace) -> dict[str, Any]:
    return {"scope_kind": "account" if ws.kind == "personal" else "workspace", "ws": _ws_ref(ws)}


def _personal(svc: ConnectService, user_id: int) -> Workspace:
    ws = svc.accounts.store.personal_workspace(user_id)
    if ws is None:
        raise NotFound("you have no personal account")
    return ws


def _installed_page(request: Request, svc: ConnectService, ws: Workspace) -> Response:
    rows, _ = svc.store.list_installations(ws.id)
    return render(
        request,
        "connect/installed.html",
        {
            **_nav_context(ws),
            "active": "addons",
            "installations": [_installation_view(svc, r) for r in rows],
        },
    )


def _marketplace_page(request: Request, svc: ConnectService, ws: Workspace) -> Response:
    installed = {r.app_key for r in svc.store.list_installations(ws.id)[0]}
    views = []
    for listing in MarketplaceService(svc.session).listings():
        raw = listing.descriptor
        declared = raw.get("scopes")
        try:
            scopes = (
                parse_scopes([str(s) for s in declared])
                if isinstance(declared, list)
                else ALL_SCOPES
            )
        except ValueError:
            scopes = frozenset()
        views.append(
            ListingView(
                app_key=listing.app_key,
                name=listing.name,
                description=listing.description,
                vendor_name=listing.vendor_name,
                all_scopes=declared is None,
                scopes=_scope_views(scopes),
                installed=listing.app_key in installed,
            )
        )
    return render(
        request,
        "connect/marketplace.html",
        {**_nav_context(ws), "active": "marketplace", "listings": views},
    )


@router.get("/account/settings/addons", response_class=HTMLResponse)
def account_addons(
    request: Request, viewer: LoggedIn, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    return _installed_page(request, svc, _personal(svc, viewer.id))


@router.get("/account/settings/addons/marketplace", response_class=HTMLResponse)
def account_marketplace(
    request: Request, viewer: LoggedIn, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    return _marketplace_page(request, svc, _personal(svc, viewer.id))


def _admin_ws(svc: ConnectService, slug: str, user_id: int) -> Workspace:
    try:
        return svc.admin_account(slug, user_id)
    except AppdockError as exc:  # not an admin: the settings do not exist for them
        raise NotFound(f"workspace {slug!r} not found") from exc


@router.get("/{workspace}/workspace/settings/addons", response_class=HTMLResponse)
def workspace_addons(
    request: Request,
    workspace: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    return _installed_page(request, svc, _admin_ws(svc, workspace, viewer.id))


@router.get("/{workspace}/workspace/settings/addons/marketplace", response_class=HTMLResponse)
def workspace_marketplace(
    request: Request,
    workspace: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    return _marketplace_page(request, svc, _admin_ws(svc, workspace, viewer.id))


# the consent dialog -----------------------------------------------------------------------------
def _consent_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret, salt="appdock-install-consent")


def _consent_token(settings: Settings, descriptor: Descriptor) -> str:
    scopes = sorted(s.value for s in descriptor.requested_scopes)
    return str(_consent_serializer(settings).dumps({"key": descriptor.key, "scopes": scopes}))


def _consent_matches(settings: Settings, token: str, descriptor: Descriptor) -> bool:
    try:
        data = _consent_serializer(settings).loads(token)
    except BadSignature:
        return False
    scopes = sorted(s.value for s in descriptor.requested_scopes)
    return isinstance(data, dict) and data == {"key": descriptor.key, "scopes": scopes}


def _check_redirect_uri(redirect_uri: str, descriptor: Descriptor) -> str | None:
    """``redirect_uri`` must be absolute and start with the app's baseUrl (connect-spec §5.1)."""
    if not redirect_uri:
        return None
    base = descriptor.base_url.rstrip("/")
    parts = urlsplit(redirect_uri)
    ok = parts.scheme in ("http", "https") and (
        redirect_uri == base or redirect_uri.startswith((base + "/", base + "?", base + "#"))
    )
    if not ok:
        raise BadRequest(
            f"redirect_uri: {redirect_uri} does not start with the app's baseUrl {base}",
            field="redirect_uri",
        )
    return redirect_uri


def _source(
    svc: ConnectService, settings: Settings, descriptor_uri: str, addon_key: str
) -> tuple[str, bool]:
    """The descriptor URL to fetch and whether it comes from the Marketplace."""
    if bool(descriptor_uri) == bool(addon_key):
        raise BadRequest("give exactly one of descriptor_uri and addon_key", field="descriptor_uri")
    if addon_key:
        listing = MarketplaceService(svc.session).get(addon_key)
        return listing.descriptor_url, True
    return descriptor_uri, svc.listing_url(descriptor_uri)


def _targets(svc: ConnectService, user_id: int, app_key: str, listed: bool) -> list[TargetView]:
    views = []
    for ws in svc.install_targets(user_id):
        eligible = listed or ws.dev_mode
        views.append(
            TargetView(
                slug=ws.slug,
                name=ws.name + (" (your account)" if ws.kind == "personal" else ""),
                kind=ws.kind,
                eligible=eligible,
                reason="" if eligible else "development mode is off",
                installed=svc.store.installation_for(app_key, ws.id) is not None,
            )
        )
    return views


def _consent_page(
    request: Request,
    svc: ConnectService,
    settings: Settings,
    fetched: flows.FetchedDescriptor,
    *,
    user_id: int,
    listed: bool,
    descriptor_uri: str,
    addon_key: str,
    redirect_uri: str,
    account: str,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    d = fetched.descriptor
    targets = _targets(svc, user_id, d.key, listed)
    selected = (
        account
        if any(t.slug == account and t.eligible for t in targets)
        else next((t.slug for t in targets if t.eligible), "")
    )
    return render(
        request,
        "connect/consent.html",
        {
            "app": {
                "key": d.key,
                "name": d.name,
                "description": d.description,
                "vendor_name": d.vendor_name,
                "vendor_url": d.vendor.url if d.vendor and d.vendor.url else "",
                "base_url": d.base_url,
                "all_scopes": d.asks_all_scopes,
                "scopes": _scope_views(d.requested_scopes),
                "implied": _scope_views(set(closure(d.requested_scopes) - d.requested_scopes)),
                "listed": listed,
            },
            "targets": targets,
            "selected": selected,
            "descriptor_uri": descriptor_uri,
            "addon_key": addon_key,
            "redirect_uri": redirect_uri,
            "consent": _consent_token(settings, d),
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/site/addons/authorize", response_class=HTMLResponse)
def authorize_form(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
    descriptor_uri: str = "",
    addon_key: str = "",
    redirect_uri: str = "",
    account: str = "",
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    url, listed = _source(svc, settings, descriptor_uri.strip(), addon_key.strip())
    db.commit()  # nothing is held open while the app's server is asked for its descriptor
    fetched = flows.fetch_descriptor(settings, url, field="descriptor_uri")
    _check_redirect_uri(redirect_uri, fetched.descriptor)
    return _consent_page(
        request,
        svc,
        settings,
        fetched,
        user_id=viewer.id,
        listed=listed,
        descriptor_uri=descriptor_uri.strip(),
        addon_key=addon_key.strip(),
        redirect_uri=redirect_uri,
        account=account,
    )


@router.post("/site/addons/authorize", response_class=HTMLResponse)
def authorize_submit(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
    descriptor_uri: Annotated[str, Form()] = "",
    addon_key: Annotated[str, Form()] = "",
    redirect_uri: Annotated[str, Form()] = "",
    account: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "grant",
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    url, listed = _source(svc, settings, descriptor_uri.strip(), addon_key.strip())
    if action != "grant":
        return _cancel(request, svc, viewer.id, redirect_uri, url, settings)
    ws = svc.admin_account(account, viewer.id) if account else None
    if ws is None:
        raise BadRequest("account: choose the account to install the app on", field="account")
    if not listed:
        svc.require_dev_mode(ws)
    workspace_id, back = ws.id, _settings_href(ws)
    db.commit()
    fetched = flows.fetch_descriptor(settings, url, field="descriptor_uri")
    checked_redirect = _check_redirect_uri(redirect_uri, fetched.descriptor)
    if not _consent_matches(settings, consent, fetched.descriptor):
        return _consent_page(
            request,
            svc,
            settings,
            fetched,
            user_id=viewer.id,
            listed=listed,
            descriptor_uri=descriptor_uri.strip(),
            addon_key=addon_key.strip(),
            redirect_uri=redirect_uri,
            account=account,
            notice="The app's requested access changed since this page was shown. "
            "Review it again before granting.",
            status_code=409,
        )
    try:
        outcome = flows.install(
            db,
            settings,
            urls,
            fetched=fetched,
            workspace_id=workspace_id,
            user_id=viewer.id,
            redirect_uri=checked_redirect,
        )
    except UpstreamError as exc:
        return render(
            request,
            "connect/install_failed.html",
            {
                "app_name": fetched.descriptor.name,
                "message": exc.message,
                "status": exc.data.get("status"),
                "response": exc.data.get("response"),
                "back": back,
            },
            status_code=502,
        )
    flash(
        request,
        f"{outcome.app_name} {'reinstalled' if outcome.reinstall else 'installed'} on "
        f"{outcome.workspace_slug}.",
    )
    return redirect(request, outcome.redirect_url or back)


def _cancel(
    request: Request,
    svc: ConnectService,
    user_id: int,
    redirect_uri: str,
    url: str,
    settings: Settings,
) -> Response:
    """Deny: back to the app with ``error=access_denied`` when it gave a (valid) redirect_uri."""
    personal = _personal(svc, user_id)
    if redirect_uri:
        base = urlsplit(redirect_uri)
        descriptor_base = ""
        try:
            svc.session.commit()
            descriptor_base = flows.fetch_descriptor(settings, url).descriptor.base_url
        except AppdockError:
            descriptor_base = ""
        if descriptor_base and redirect_uri.startswith(descriptor_base.rstrip("/")):
            sep = "&" if base.query else "?"
            return RedirectResponse(
                redirect_uri + sep + urlencode({"error": "access_denied"}), status_code=303
            )
    flash(request, "Installation cancelled.", "info")
    return redirect(request, _settings_href(personal))


# uninstall, approve, configure ------------------------------------------------------------------
@router.get("/site/addons/installations/{installation_id}/remove", response_class=HTMLResponse)
def remove_form(
    request: Request,
    installation_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    inst = svc.managed_installation(installation_id, viewer.id)
    ws = svc.accounts.store.workspace_by_id(inst.workspace_id)
    assert ws is not None
    return render(
        request,
        "connect/remove.html",
        {
            **_nav_context(ws),
            "active": "addons",
            "installation": _installation_view(svc, inst),
            "back": _settings_href(ws),
        },
    )


@router.post("/site/addons/installations/{installation_id}/remove")
def remove_submit(
    request: Request,
    installation_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    inst = svc.managed_installation(installation_id, viewer.id)
    ws = svc.accounts.store.workspace_by_id(inst.workspace_id)
    assert ws is not None
    back = _settings_href(ws)
    outcome = flows.uninstall(db, settings, urls, inst)
    message = f"{outcome.app_name} removed from {outcome.workspace_slug}."
    if outcome.callback_error:
        message += f" (The app was not told: {outcome.callback_error}.)"
    flash(request, message)
    return redirect(request, back)


@router.post("/site/addons/installations/{installation_id}/approve")
def approve_submit(
    request: Request,
    installation_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    svc = ConnectService(db, settings.secret, urls)
    inst = svc.managed_installation(installation_id, viewer.id)
    ws = svc.accounts.store.workspace_by_id(inst.workspace_id)
    assert ws is not None
    svc.approve_pending_scopes(inst)
    flash(request, f"{inst.name} now has the access it asked for.")
    return redirect(request, _settings_href(ws))


@router.get("/site/addons/installations/{installation_id}/configure", response_class=HTMLResponse)
def configure_page(
    request: Request,
    installation_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> Response:
    """The app's configure page: its signed ``configurePage`` module in a sandboxed frame with
    the AP bridge (context parameters as on any account page; hidden by its conditions → 404)."""
    svc = ConnectService(db, settings.secret, urls)
    inst = svc.managed_installation(installation_id, viewer.id)
    ws = svc.accounts.store.workspace_by_id(inst.workspace_id)
    assert ws is not None
    descriptor = descriptor_of(inst)
    configure = descriptor.modules.configure_page
    if configure is None:
        raise NotFound(f"{inst.name} has no configure page")
    modules = connect_pages.account_page(request, db, settings, ws, viewer)
    module = modules.one(inst.app_key, configure.key, {"configurePage"})
    if module is None:
        raise NotFound(f"{inst.name} has no configure page you can open")
    response = render(
        request,
        "connect/configure.html",
        {
            **_nav_context(ws),
            "active": "addons",
            "title": configure.name.value,
            "app_name": inst.name,
            "module": module,
            "connect": modules,
            "back": _settings_href(ws),
        },
    )
    return modules.apply(response)
