"""Pages of the account domain: login, dashboard, workspaces, account and workspace settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel

from appdock.account.service import AccountService
from appdock.auth import web_session
from appdock.auth.deps import DbDep, SettingsDep
from appdock.core.errors import AppdockError, NotFound
from appdock.core.scopes import DESCRIPTIONS, Scope
from appdock.core.time import isoformat
from appdock.core.urls import local_path
from appdock.models import Workspace
from appdock.web.deps import LoggedIn, Viewer, ViewerView, csrf_protect
from appdock.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


class WorkspaceView(BaseModel):
    slug: str
    name: str
    kind: str
    role: str | None
    is_private: bool
    uuid: str


class MemberView(BaseModel):
    username: str
    display_name: str
    role: str


def _ws_view(ws: Workspace, role: str | None) -> WorkspaceView:
    return WorkspaceView(
        slug=ws.slug, name=ws.name, kind=ws.kind, role=role, is_private=ws.is_private, uuid=ws.uuid
    )


def _safe_next(value: str | None) -> str:
    """Only same-site relative targets, so the login form is no open redirect."""
    return local_path(value)


# login -------------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, viewer: Viewer, next: str = "/") -> Response:
    if viewer is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "account/login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    svc = AccountService(db, settings.secret)
    user = svc.authenticate_password(username.strip(), password)
    if user is None:
        return render(
            request,
            "account/login.html",
            {
                "next": _safe_next(next),
                "error": "Incorrect username or password.",
                "username": username,
            },
            status_code=401,
        )
    token = svc.start_web_session(user, settings.session_days)
    response = redirect(request, _safe_next(next))
    web_session.set_login_cookie(response, token, settings)
    return response


@router.post("/logout")
def logout(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    web_session.user_id_from_request(request, db, settings)
    token = getattr(request.state, "session_token", None)
    if token:
        AccountService(db, settings.secret).end_web_session(token)
    response = RedirectResponse("/login", status_code=303)
    web_session.clear_login_cookie(response)
    return response


# dashboard ---------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, viewer: Viewer, db: DbDep, settings: SettingsDep) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    svc = AccountService(db, settings.secret)
    rows, _ = svc.member_workspaces(viewer.id, 0, 200)
    return render(
        request,
        "account/dashboard.html",
        {
            "workspaces": [_ws_view(w, r) for w, r in rows],
            "sections": dashboard_sections(request, viewer),
        },
    )


def dashboard_sections(request: Request, viewer: ViewerView | None = None) -> list[str | Markup]:
    """Extra dashboard sections other domains add to ``app.state.dashboard_sections``: template
    names (included with the dashboard's context) or callables ``(request, viewer) -> Markup``."""
    out: list[str | Markup] = []
    for section in getattr(request.app.state, "dashboard_sections", []):
        out.append(section(request, viewer) if callable(section) else section)
    return out


# workspaces --------------------------------------------------------------------------------------
@router.get("/workspaces/new", response_class=HTMLResponse)
def new_workspace_form(request: Request, viewer: LoggedIn) -> Response:
    return render(request, "workspace/new.html", {"error": None, "form": {}})


@router.post("/workspaces/new", response_class=HTMLResponse)
def new_workspace_submit(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    slug: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    svc = AccountService(db, settings.secret)
    try:
        with db.begin_nested():
            ws = svc.create_team(slug.strip(), name, svc.user_by_id(viewer.id))
    except AppdockError as exc:
        return render(
            request,
            "workspace/new.html",
            {"error": exc.message, "form": {"slug": slug, "name": name}},
            status_code=400,
        )
    flash(request, f"Workspace {ws.name} created.")
    return redirect(request, f"/{ws.slug}")


def workspace_for_page(
    svc: AccountService, slug: str, viewer_id: int | None
) -> tuple[Workspace, str | None]:
    """The workspace and the viewer's role in it; NotFound when hidden from the viewer."""
    ws = svc.store.workspace_by_slug(slug)
    if ws is None:
        raise NotFound(f"workspace {slug!r} not found")
    role = svc.role_of(ws, viewer_id)
    if role is None and ws.is_private:
        raise NotFound(f"workspace {slug!r} not found")
    return ws, role


def _settings_ws(svc: AccountService, slug: str, viewer_id: int) -> Workspace:
    ws, role = workspace_for_page(svc, slug, viewer_id)
    if role not in ("admin", "owner"):
        raise NotFound(f"workspace {slug!r} not found")
    return ws


@router.get("/{workspace}/workspace/settings", response_class=HTMLResponse)
def workspace_settings(
    request: Request, workspace: str, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    svc = AccountService(db, settings.secret)
    ws = _settings_ws(svc, workspace, viewer.id)
    rows, _ = svc.store.list_members(ws.id, 0, 1000)
    members = [
        MemberView(username=u.username, display_name=u.display_name, role=m.role) for m, u in rows
    ]
    return render(
        request,
        "workspace/settings.html",
        {
            "ws": _ws_view(ws, svc.role_of(ws, viewer.id)),
            "members": members,
            "dev_mode": ws.dev_mode,
            "active": "members",
        },
    )


@router.post("/{workspace}/workspace/settings/members")
def workspace_add_member(
    request: Request,
    workspace: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "member",
) -> Response:
    svc = AccountService(db, settings.secret)
    ws = _settings_ws(svc, workspace, viewer.id)
    back = f"/{ws.slug}/workspace/settings"
    try:
        with db.begin_nested():
            user = svc.store.user_by_username(username.strip())
            if user is None:
                raise NotFound(f"no user named {username.strip()!r}")
            if role == "owner" and svc.role_of(ws, viewer.id) != "owner":
                raise AppdockError("only an owner can add another owner")
            svc.add_member(ws, user, role)
    except AppdockError as exc:
        flash(request, exc.message, "error")
        return redirect(request, back)
    flash(request, f"{username} added as {role}.")
    return redirect(request, back)


@router.post("/{workspace}/workspace/settings/members/{username}")
def workspace_change_member(
    request: Request,
    workspace: str,
    username: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    role: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "role",
) -> Response:
    svc = AccountService(db, settings.secret)
    ws = _settings_ws(svc, workspace, viewer.id)
    back = f"/{ws.slug}/workspace/settings"
    try:
        with db.begin_nested():
            user = svc.store.user_by_username(username)
            if user is None:
                raise NotFound(f"no user named {username!r}")
            target_role = svc.role_of(ws, user.id)
            if (target_role == "owner" or role == "owner") and svc.role_of(
                ws, viewer.id
            ) != "owner":
                raise AppdockError("only an owner can change an owner or make one")
            if action == "remove":
                svc.remove_member(ws, user)
                flash(request, f"{username} removed.")
            else:
                svc.set_role(ws, user, role)
                flash(request, f"{username} is now {role}.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return redirect(request, back)


@router.post("/{workspace}/workspace/settings/dev-mode")
def workspace_dev_mode(
    request: Request,
    workspace: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    svc = AccountService(db, settings.secret)
    ws = _settings_ws(svc, workspace, viewer.id)
    svc.set_dev_mode(ws, enabled == "on")
    flash(request, "Development mode " + ("enabled." if ws.dev_mode else "disabled."))
    return redirect(request, f"/{ws.slug}/workspace/settings")


# account settings --------------------------------------------------------------------------------
class AppPasswordView(BaseModel):
    id: int
    label: str
    scopes: list[str]
    hint: str
    created_on: str | None
    last_used_on: str | None


SCOPE_CHOICES = [(s.value, DESCRIPTIONS[s]) for s in Scope]


@router.get("/account/settings", response_class=HTMLResponse)
def account_settings(
    request: Request, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    svc = AccountService(db, settings.secret)
    personal = svc.store.personal_workspace(viewer.id)
    return render(
        request,
        "account/settings.html",
        {"active": "profile", "dev_mode": bool(personal and personal.dev_mode)},
    )


@router.post("/account/settings/profile")
def account_profile_submit(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    svc = AccountService(db, settings.secret)
    try:
        with db.begin_nested():
            svc.update_profile(svc.user_by_id(viewer.id), display_name=display_name, email=email)
        flash(request, "Profile saved.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return redirect(request, "/account/settings")


@router.post("/account/settings/password")
def account_password_submit(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
) -> Response:
    svc = AccountService(db, settings.secret)
    try:
        with db.begin_nested():
            svc.change_password(svc.user_by_id(viewer.id), current_password, new_password)
        flash(request, "Password changed.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return redirect(request, "/account/settings")


@router.post("/account/settings/dev-mode")
def account_dev_mode(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    svc = AccountService(db, settings.secret)
    personal = svc.store.personal_workspace(viewer.id)
    if personal is not None:
        svc.set_dev_mode(personal, enabled == "on")
        flash(request, "Development mode " + ("enabled." if personal.dev_mode else "disabled."))
    return redirect(request, "/account/settings")


def _app_password_views(svc: AccountService, user_id: int) -> list[AppPasswordView]:
    return [
        AppPasswordView(
            id=p.id,
            label=p.label,
            scopes=p.scopes.split(),
            hint=p.token_hint,
            created_on=isoformat(p.created_at),
            last_used_on=isoformat(p.last_used_at),
        )
        for p in svc.app_passwords(svc.user_by_id(user_id))
    ]


@router.get("/account/settings/app-passwords", response_class=HTMLResponse)
def app_passwords(request: Request, viewer: LoggedIn, db: DbDep, settings: SettingsDep) -> Response:
    svc = AccountService(db, settings.secret)
    return render(
        request,
        "account/app_passwords.html",
        {
            "active": "app-passwords",
            "passwords": _app_password_views(svc, viewer.id),
            "scope_choices": SCOPE_CHOICES,
            "new_secret": None,
            "error": None,
        },
    )


@router.post("/account/settings/app-passwords", response_class=HTMLResponse)
async def app_password_create(
    request: Request, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    label = str(form.get("label") or "")
    scopes = [str(v) for v in form.getlist("scopes")]
    svc = AccountService(db, settings.secret)
    new_secret = None
    error = None
    try:
        with db.begin_nested():
            created = svc.create_app_password(svc.user_by_id(viewer.id), label, scopes)
        new_secret = {"label": created.row.label, "secret": created.secret}
    except AppdockError as exc:
        error = exc.message
    return render(
        request,
        "account/app_passwords.html",
        {
            "active": "app-passwords",
            "passwords": _app_password_views(svc, viewer.id),
            "scope_choices": SCOPE_CHOICES,
            "new_secret": new_secret,
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.post("/account/settings/app-passwords/{password_id}/revoke")
def app_password_revoke(
    request: Request, password_id: int, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    svc = AccountService(db, settings.secret)
    try:
        svc.revoke_app_password(svc.user_by_id(viewer.id), password_id)
        flash(request, "App password revoked.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return redirect(request, "/account/settings/app-passwords")


# avatars -----------------------------------------------------------------------------------------
_COLOURS = ["#0052cc", "#00875a", "#5243aa", "#de350b", "#ff8b00", "#00a3bf", "#6554c0", "#36b37e"]


@router.get("/account/{slug}/avatar")
def avatar(slug: str, db: DbDep, settings: SettingsDep) -> Response:
    svc = AccountService(db, settings.secret)
    ws = svc.store.workspace_by_slug(slug)
    name = ws.name if ws else slug
    parts = [p for p in name.replace("-", " ").replace("_", " ").split() if p]
    letters = ("".join(p[0] for p in parts[:2]) or "?").upper()
    colour = _COLOURS[sum(map(ord, slug)) % len(_COLOURS)]
    radius = 12 if ws and ws.kind == "team" else 32
    from markupsafe import escape

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="{radius}" fill="{colour}"/>'
        '<text x="32" y="41" font-family="Helvetica,Arial,sans-serif" font-size="26" '
        f'font-weight="600" fill="#fff" text-anchor="middle">{escape(letters)}</text></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


# workspace overview (a catch-all path: registered last by the app) ------------------------------
workspace_router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


@workspace_router.get("/{workspace}", response_class=HTMLResponse)
def workspace_page(
    request: Request, workspace: str, viewer: Viewer, db: DbDep, settings: SettingsDep
) -> Response:
    svc = AccountService(db, settings.secret)
    ws, role = workspace_for_page(svc, workspace, viewer.id if viewer else None)
    members: list[MemberView] = []
    if role is not None:
        rows, _ = svc.store.list_members(ws.id, 0, 50)
        members = [
            MemberView(username=u.username, display_name=u.display_name, role=m.role)
            for m, u in rows
        ]
    extra = [
        fragment(request, ws, viewer.id if viewer else None)
        for fragment in getattr(request.app.state, "workspace_fragments", [])
    ]
    return render(
        request,
        "workspace/overview.html",
        {"ws": _ws_view(ws, role), "members": members, "fragments": extra},
    )
