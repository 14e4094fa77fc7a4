"""Webhook settings pages: a repository's webhooks (repository settings), a workspace's webhooks
and the delivery logs of the apps installed on it (workspace settings). Each webhook page shows
its health (disabled and why), its deliveries with their attempts, request and response, and
offers Redeliver, "redeliver every failure since", and "send test event".

Pages receive dicts of primitives, never ORM rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from appdock.auth.deps import DbDep, SettingsDep
from appdock.core.errors import AppdockError, BadRequest, NotFound
from appdock.core.time import isoformat
from appdock.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from appdock.repo.service import RepoService
from appdock.repo.views import RepoView, attach_page_modules, repo_nav_items, repo_view
from appdock.web.deps import LoggedIn, csrf_protect, viewer_subject
from appdock.web.templating import flash, redirect, render
from appdock.webhook.catalogue import EVENTS
from appdock.webhook.service import HookOwner, WebhookService

router = APIRouter(dependencies=[Depends(csrf_protect)])

REPO = "/{workspace}/{repo_slug}/admin/webhooks"
WS = "/{workspace}/workspace/settings/webhooks"
PAGE = 25


def register_nav(state: dict[str, Any]) -> None:
    """Add Webhooks to the workspace settings navigation and, for repository admins, to the
    repository sidebar."""
    state["workspace_settings_nav"].append(
        {"key": "webhooks", "label": "Webhooks", "href": "/workspace/settings/webhooks"}
    )

    def repo_entry(_: Request, repo: RepoView) -> dict[str, str] | None:
        if not repo.can_admin:
            return None
        return {"key": "webhooks", "label": "Webhooks", "href": f"{repo.html_url}/admin/webhooks"}

    state["repo_nav"].append(repo_entry)


# ---- frames ------------------------------------------------------------------------------------
class Place:
    """Where a webhook page lives: a repository's settings or a workspace's settings."""

    def __init__(
        self,
        request: Request,
        svc: WebhookService,
        owner: HookOwner,
        base: str,
        frame: dict[str, Any],
    ) -> None:
        self.request = request
        self.svc = svc
        self.owner = owner
        self.base = base
        self.frame = frame

    def render(self, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        ctx = dict(self.frame)
        ctx.update(context)
        ctx.setdefault("base", self.base)
        ctx.setdefault("owner_name", self.owner.name)
        return render(self.request, template, ctx, status_code=status)


def _repo_place(
    request: Request, db: Any, settings: Any, viewer: Any, workspace: str, repo_slug: str
) -> Place:
    svc = WebhookService(db, settings)
    subject = viewer_subject(viewer)
    owner = svc.repository_owner(subject, workspace, repo_slug)
    repos = RepoService(db, settings)
    assert owner.repository is not None
    ctx = repos.context(owner.repository)
    perm = repos.permission_of(subject, owner.repository)
    attach_page_modules(request, db, settings, ctx, perm, viewer)  # apps in the sidebar
    view = repo_view(ctx, perm, settings.base_url)
    frame = {
        "frame": "webhook/_repo_frame.html",
        "repo": view,
        "nav": repo_nav_items(request, view, "webhooks"),
        "active": "webhooks",
    }
    return Place(request, svc, owner, f"/{workspace}/{repo_slug}/admin/webhooks", frame)


def _ws_place(request: Request, db: Any, settings: Any, viewer: Any, workspace: str) -> Place:
    svc = WebhookService(db, settings)
    owner = svc.workspace_owner(viewer_subject(viewer), workspace)
    ws = owner.workspace
    frame = {
        "frame": "webhook/_ws_frame.html",
        "ws": {"slug": ws.slug, "name": ws.name},
        "active": "webhooks",
    }
    return Place(request, svc, owner, f"/{ws.slug}/workspace/settings/webhooks", frame)


# ---- view models ---------------------------------------------------------------------------------
def _ago(value: datetime | None) -> str | None:
    return isoformat(value)


def hook_dict(sub: WebhookSubscription, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "uuid": sub.uuid,
        "id": sub.uuid.strip("{}"),
        "kind": sub.kind,
        "url": sub.url,
        "description": sub.description,
        "events": sorted(sub.events),
        "active": sub.active,
        "secret_set": bool(sub.secret),
        "disabled_reason": sub.disabled_reason,
        "failing_since": _ago(sub.failing_since),
        "last_success_at": _ago(sub.last_success_at),
        "app_key": sub.app_key,
        "installation_id": sub.installation_id,
        "counts": counts or {},
    }


def delivery_dict(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "id": row.uuid.strip("{}"),
        "event": row.event_key,
        "status": row.status,
        "is_test": row.is_test,
        "attempts": row.attempts,
        "created_at": _ago(row.created_at),
        "next_attempt_at": _ago(row.next_attempt_at) if row.status == "pending" else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
    }


def attempt_dict(row: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": row.number,
        "started_at": _ago(row.started_at),
        "duration_ms": round(row.duration_ms, 1),
        "url": row.url,
        "outcome": row.outcome,
        "request_headers": sorted((row.request_headers or {}).items()),
        "response_status": row.response_status,
        "response_headers": sorted((row.response_headers or {}).items()),
        "response_body": row.response_body,
        "error": row.error,
    }


EVENT_CHOICES = [{"event": e.event, "label": f"{e.category}: {e.label}"} for e in EVENTS]


# ---- shared handlers -----------------------------------------------------------------------------
def _list_page(
    place: Place, error: str | None = None, form: dict[str, Any] | None = None
) -> Response:
    rows, _ = place.svc.hooks(place.owner, limit=200)
    hooks = [hook_dict(s, place.svc.queue_counts([s])) for s in rows]
    apps: list[dict[str, Any]] = []
    if place.owner.repository is None:
        subs, _ = place.svc.store.subscriptions(
            kind="connect", workspace_id=place.owner.workspace.id, limit=500
        )
        by_install: dict[int, dict[str, Any]] = {}
        for s in subs:
            entry = by_install.setdefault(
                s.installation_id or 0,
                {"installation_id": s.installation_id, "app_key": s.app_key, "hooks": []},
            )
            entry["hooks"].append(hook_dict(s, place.svc.queue_counts([s])))
        apps = list(by_install.values())
    return place.render(
        "webhook/hooks.html",
        {
            "hooks": hooks,
            "apps": apps,
            "events": EVENT_CHOICES,
            "error": error,
            "form": form or {"events": ["repo:push"], "active": True},
        },
        status=400 if error else 200,
    )


def _create(place: Place, viewer: Any, form: dict[str, Any]) -> Response:
    try:
        with place.svc.session.begin_nested():
            sub = place.svc.create(
                place.owner,
                viewer_subject(viewer),
                url=form["url"],
                events=form["events"],
                description=form["description"],
                active=form["active"],
                secret=form["secret"] or None,
            )
    except AppdockError as exc:
        return _list_page(place, exc.message, form)
    flash(place.request, "Webhook added.")
    return redirect(place.request, f"{place.base}/{sub.uuid.strip('{}')}")


def _hook_page(
    place: Place, uid: str, status: str | None, page: int, error: str | None = None
) -> Response:
    sub = place.svc.get(place.owner, uid)
    return _render_hook(place, sub, status, page, error)


def _render_hook(
    place: Place,
    sub: WebhookSubscription,
    status: str | None,
    page: int,
    error: str | None = None,
    base: str | None = None,
) -> Response:
    rows, total = place.svc.deliveries(
        [sub], status=status or None, offset=(page - 1) * PAGE, limit=PAGE
    )
    since_default = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    return place.render(
        "webhook/hook.html",
        {
            "hook": hook_dict(sub, place.svc.queue_counts([sub])),
            "hook_base": base or f"{place.base}/{sub.uuid.strip('{}')}",
            "deliveries": [delivery_dict(r) for r in rows],
            "total": total,
            "page": page,
            "pages": max(1, (total + PAGE - 1) // PAGE),
            "status": status or "",
            "events": EVENT_CHOICES,
            "editable": sub.kind != "connect",
            "since_default": since_default,
            "error": error,
        },
        status=400 if error else 200,
    )


def _form(
    url: str, description: str, events: list[str], active: str, secret: str
) -> dict[str, Any]:
    return {
        "url": url.strip(),
        "description": description,
        "events": events,
        "active": active in ("on", "true", "1"),
        "secret": secret,
    }


def _parse_since(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadRequest(f"since: {value!r} is not a date and time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _action(place: Place, sub: WebhookSubscription, back: str, action: str, **kw: Any) -> Response:
    request = place.request
    try:
        with place.svc.session.begin_nested():
            if action == "test":
                place.svc.send_test(sub, kw.get("event") or None)
                message = "Test event queued; it appears in the log below within seconds."
            elif action == "redeliver_since":
                count = place.svc.redeliver_failed_since([sub.id], _parse_since(kw["since"]))
                message = f"{count} failed deliveries queued again."
            elif action == "redeliver":
                place.svc.redeliver([sub], kw["delivery"])
                message = "Delivery queued again (same webhook-id)."
            elif action == "toggle":
                place.svc.update(place.owner, sub, {"active": not sub.active})
                message = "Webhook enabled." if sub.active else "Webhook disabled."
            else:
                raise BadRequest(f"unknown action {action!r}")
    except AppdockError as exc:
        flash(request, exc.message, "error")
        return redirect(request, back)
    flash(request, message)
    return redirect(request, back)


def _delivery_page(place: Place, sub: WebhookSubscription, delivery: str, back: str) -> Response:
    view = place.svc.delivery([sub], delivery)
    return place.render(
        "webhook/delivery.html",
        {
            "hook": hook_dict(sub),
            "hook_base": back,
            "delivery": delivery_dict(view.delivery),
            "attempts": [attempt_dict(a) for a in view.attempts],
            "request_body": view.request_body,
        },
    )


# ---- repository pages ---------------------------------------------------------------------------
@router.get(REPO, response_class=HTMLResponse)
def repo_hooks(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    return _list_page(_repo_place(request, db, settings, viewer, workspace, repo_slug))


@router.post(REPO, response_class=HTMLResponse)
def repo_hook_create(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    active: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
) -> Response:
    place = _repo_place(request, db, settings, viewer, workspace, repo_slug)
    return _create(place, viewer, _form(url, description, events or [], active, secret))


@router.get(REPO + "/{uid}", response_class=HTMLResponse)
def repo_hook(
    request: Request,
    workspace: str,
    repo_slug: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    status: Annotated[str | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    place = _repo_place(request, db, settings, viewer, workspace, repo_slug)
    return _hook_page(place, uid, status, page)


@router.post(REPO + "/{uid}", response_class=HTMLResponse)
def repo_hook_update(
    request: Request,
    workspace: str,
    repo_slug: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    active: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    clear_secret: Annotated[str, Form()] = "",
) -> Response:
    place = _repo_place(request, db, settings, viewer, workspace, repo_slug)
    return _update(place, uid, url, description, events, active, secret, clear_secret)


def _update(
    place: Place,
    uid: str,
    url: str,
    description: str,
    events: list[str] | None,
    active: str,
    secret: str,
    clear_secret: str,
) -> Response:
    sub = place.svc.get(place.owner, uid)
    changes: dict[str, Any] = {
        "url": url,
        "description": description,
        "events": events or [],
        "active": active in ("on", "true", "1"),
    }
    if secret:
        changes["secret"] = secret
    elif clear_secret:
        changes["secret"] = None
    try:
        with place.svc.session.begin_nested():
            place.svc.update(place.owner, sub, changes)
    except AppdockError as exc:
        place.svc.session.refresh(sub)
        return _render_hook(place, sub, None, 1, exc.message)
    flash(place.request, "Webhook saved.")
    return redirect(place.request, f"{place.base}/{sub.uuid.strip('{}')}")


@router.post(REPO + "/{uid}/delete")
def repo_hook_delete(
    request: Request,
    workspace: str,
    repo_slug: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    place = _repo_place(request, db, settings, viewer, workspace, repo_slug)
    place.svc.delete(place.svc.get(place.owner, uid))
    flash(request, "Webhook deleted.")
    return redirect(request, place.base)


@router.post(REPO + "/{uid}/action")
def repo_hook_action(
    request: Request,
    workspace: str,
    repo_slug: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    action: Annotated[str, Form()] = "",
    event: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    delivery: Annotated[str, Form()] = "",
) -> Response:
    place = _repo_place(request, db, settings, viewer, workspace, repo_slug)
    sub = place.svc.get(place.owner, uid)
    back = f"{place.base}/{uid}"
    return _action(place, sub, back, action, event=event, since=since, delivery=delivery)


@router.get(REPO + "/{uid}/deliveries/{delivery}", response_class=HTMLResponse)
def repo_hook_delivery(
    request: Request,
    workspace: str,
    repo_slug: str,
    uid: str,
    delivery: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    place = _repo_place(request, db, settings, viewer, workspace, repo_slug)
    sub = place.svc.get(place.owner, uid)
    return _delivery_page(place, sub, delivery, f"{place.base}/{uid}")


# ---- workspace pages ----------------------------------------------------------------------------
@router.get(WS, response_class=HTMLResponse)
def ws_hooks(
    request: Request, workspace: str, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    return _list_page(_ws_place(request, db, settings, viewer, workspace))


@router.post(WS, response_class=HTMLResponse)
def ws_hook_create(
    request: Request,
    workspace: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    active: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    return _create(place, viewer, _form(url, description, events or [], active, secret))


def _app_sub(place: Place, installation_id: int, uid: str | None) -> list[WebhookSubscription]:
    subs = [
        s
        for s in place.svc.store.subscriptions_of_installation(installation_id)
        if s.workspace_id == place.owner.workspace.id
    ]
    if not subs:
        raise NotFound(f"no app installation {installation_id} with webhooks on this account")
    if uid is not None:
        subs = [s for s in subs if s.uuid.strip("{}") == uid.strip("{}")]
        if not subs:
            raise NotFound(f"webhook {uid} not found")
    return subs


@router.get(WS + "/apps/{installation_id}/{uid}", response_class=HTMLResponse)
def ws_app_hook(
    request: Request,
    workspace: str,
    installation_id: int,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    status: Annotated[str | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    [sub] = _app_sub(place, installation_id, uid)
    base = f"{place.base}/apps/{installation_id}/{uid}"
    return _render_hook(place, sub, status, page, base=base)


@router.post(WS + "/apps/{installation_id}/{uid}/action")
def ws_app_hook_action(
    request: Request,
    workspace: str,
    installation_id: int,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    action: Annotated[str, Form()] = "",
    event: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    delivery: Annotated[str, Form()] = "",
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    [sub] = _app_sub(place, installation_id, uid)
    if action == "toggle":
        raise BadRequest("an app's webhooks follow its installation")
    back = f"{place.base}/apps/{installation_id}/{uid}"
    return _action(place, sub, back, action, event=event, since=since, delivery=delivery)


@router.get(WS + "/apps/{installation_id}/{uid}/deliveries/{delivery}", response_class=HTMLResponse)
def ws_app_hook_delivery(
    request: Request,
    workspace: str,
    installation_id: int,
    uid: str,
    delivery: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    [sub] = _app_sub(place, installation_id, uid)
    return _delivery_page(place, sub, delivery, f"{place.base}/apps/{installation_id}/{uid}")


@router.get(WS + "/{uid}", response_class=HTMLResponse)
def ws_hook(
    request: Request,
    workspace: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    status: Annotated[str | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    return _hook_page(place, uid, status, page)


@router.post(WS + "/{uid}", response_class=HTMLResponse)
def ws_hook_update(
    request: Request,
    workspace: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    active: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    clear_secret: Annotated[str, Form()] = "",
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    return _update(place, uid, url, description, events, active, secret, clear_secret)


@router.post(WS + "/{uid}/delete")
def ws_hook_delete(
    request: Request, workspace: str, uid: str, viewer: LoggedIn, db: DbDep, settings: SettingsDep
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    place.svc.delete(place.svc.get(place.owner, uid))
    flash(request, "Webhook deleted.")
    return redirect(request, place.base)


@router.post(WS + "/{uid}/action")
def ws_hook_action(
    request: Request,
    workspace: str,
    uid: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    action: Annotated[str, Form()] = "",
    event: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    delivery: Annotated[str, Form()] = "",
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    sub = place.svc.get(place.owner, uid)
    back = f"{place.base}/{uid}"
    return _action(place, sub, back, action, event=event, since=since, delivery=delivery)


@router.get(WS + "/{uid}/deliveries/{delivery}", response_class=HTMLResponse)
def ws_hook_delivery(
    request: Request,
    workspace: str,
    uid: str,
    delivery: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    place = _ws_place(request, db, settings, viewer, workspace)
    sub = place.svc.get(place.owner, uid)
    return _delivery_page(place, sub, delivery, f"{place.base}/{uid}")
