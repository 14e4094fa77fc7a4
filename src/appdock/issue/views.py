"""HTML pages of the issue tracker: the list with filters, the create form, and the issue page
with its comments, history and a state / kind / priority / assignee changer.

Templates get view models and dicts of primitives; every form posts with the CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel

from appdock.auth.deps import DbDep, SettingsDep
from appdock.core.errors import AppdockError
from appdock.core.markup import render_markdown
from appdock.core.subject import AuthSubject
from appdock.issue.context import IssueContext
from appdock.issue.schemas import KINDS, OPEN_STATES, PRIORITIES, STATES
from appdock.issue.service import UNSET, IssueService
from appdock.repo.context import RepoContext
from appdock.repo.service import Permission
from appdock.repo.views import (
    RepoView,
    attach_page_modules,
    finish_page,
    page_modules,
    repo_nav_items,
    repo_view,
)
from appdock.web.deps import LoggedIn, Viewer, ViewerView, csrf_protect, viewer_subject
from appdock.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

BASE = "/{workspace}/{repo_slug}/issues"
ONE = BASE + "/{number:int}"
PER_PAGE = 30
CLOSED_STATES = tuple(s for s in STATES if s not in OPEN_STATES)
FILTERS = {
    "open": ("Open", list(OPEN_STATES)),
    "closed": ("Closed", list(CLOSED_STATES)),
    "all": ("All", []),
}


class PersonView(BaseModel):
    username: str
    display_name: str


class IssueView(BaseModel):
    number: int
    title: str
    content: str
    kind: str
    priority: str
    state: str
    reporter: PersonView | None
    assignee: PersonView | None
    votes: int
    comment_count: int
    created_on: str
    updated_on: str
    html_url: str


def _person(user: Any) -> PersonView | None:
    return PersonView(username=user.username, display_name=user.display_name) if user else None


def issue_view(ctx: IssueContext) -> IssueView:
    issue = ctx.issue
    return IssueView(
        number=issue.number,
        title=issue.title,
        content=issue.content,
        kind=issue.kind,
        priority=issue.priority,
        state=issue.state,
        reporter=_person(ctx.reporter),
        assignee=_person(ctx.assignee),
        votes=issue.votes,
        comment_count=ctx.comment_count,
        created_on=issue.created_at.isoformat(),
        updated_on=issue.updated_at.isoformat(),
        html_url=f"/{ctx.repo.full_name}/issues/{issue.number}",
    )


def _load(
    db: Any,
    settings: Any,
    viewer: ViewerView | None,
    workspace: str,
    repo_slug: str,
    request: Request | None = None,
) -> tuple[IssueService, RepoContext, RepoView, AuthSubject]:
    svc = IssueService(db, settings)
    subject = viewer_subject(viewer)
    repo_ctx = svc.repository(workspace, repo_slug, subject)
    perm = svc.repos.permission_of(subject, repo_ctx.repo)
    if request is not None:  # app modules of the repository (its sidebar and actions)
        attach_page_modules(request, db, settings, repo_ctx, perm, viewer)
    return svc, repo_ctx, repo_view(repo_ctx, perm, settings.base_url), subject


def _page(
    request: Request, template: str, repo: RepoView, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "repo": repo,
        "nav": repo_nav_items(request, repo, "issues"),
        "active": "issues",
        "kinds": KINDS,
        "priorities": PRIORITIES,
        "states": STATES,
        "connect": page_modules(request),
    }
    ctx.update(context)
    return finish_page(request, render(request, template, ctx, status_code=status))


def _assignees(svc: IssueService, repo: RepoContext) -> list[dict[str, str]]:
    return [
        {"username": u.username, "display_name": u.display_name} for u in svc.member_users(repo)
    ]


# ---- list ------------------------------------------------------------------------------------
@router.get(BASE, response_class=HTMLResponse)
def issue_list(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    status: str = "open",
    kind: str = "",
    priority: str = "",
    q: str = "",
    mine: str = "",
    sort: str = "-updated_on",
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Response:
    svc, repo_ctx, repo, _ = _load(db, settings, viewer, workspace, repo_slug, request)
    status = status if status in FILTERS else "open"
    clauses = []
    if kind in KINDS:
        clauses.append(f'kind = "{kind}"')
    if priority in PRIORITIES:
        clauses.append(f'priority = "{priority}"')
    if mine and viewer is not None:
        clauses.append(f'assignee.username = "{viewer.username}"')
    sorts = {"-updated_on", "-created_on", "-priority", "id", "-id", "title"}
    rows, total = svc.search(
        repo_ctx,
        q=" AND ".join(clauses) or None,
        sort=sort if sort in sorts else "-updated_on",
        states=FILTERS[status][1],
        text=q.strip() or None,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    counts = svc.count_by_state(repo_ctx)
    tabs = [
        {
            "key": key,
            "label": label,
            "count": sum(n for s, n in counts.items() if not states or s in states),
        }
        for key, (label, states) in FILTERS.items()
    ]
    params = {"status": status, "kind": kind, "priority": priority, "q": q, "mine": mine}

    def link(**changes: Any) -> str:
        merged = {k: v for k, v in {**params, **changes}.items() if v}
        return "?" + urlencode(merged)

    return _page(
        request,
        "issue/list.html",
        repo,
        {
            "issues": [issue_view(c) for c in rows],
            "total": total,
            "tabs": tabs,
            "status": status,
            "filters": params,
            "sort": sort,
            "tab_links": {t["key"]: link(status=t["key"], page=None) for t in tabs},
            "prev_url": link(page=page - 1) if page > 1 else None,
            "next_url": link(page=page + 1) if page * PER_PAGE < total else None,
        },
    )


# ---- create ----------------------------------------------------------------------------------
@router.get(BASE + "/new", response_class=HTMLResponse)
def issue_new(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, repo_ctx, repo, _ = _load(db, settings, viewer, workspace, repo_slug, request)
    return _page(
        request,
        "issue/new.html",
        repo,
        {
            "form": {"kind": "bug", "priority": "major"},
            "assignees": _assignees(svc, repo_ctx),
            "error": None,
        },
    )


@router.post(BASE + "/new", response_class=HTMLResponse)
def issue_create(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    title: Annotated[str, Form()] = "",
    content: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "bug",
    priority: Annotated[str, Form()] = "major",
    assignee: Annotated[str, Form()] = "",
) -> Response:
    svc, repo_ctx, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    form = {
        "title": title,
        "content": content,
        "kind": kind,
        "priority": priority,
        "assignee": assignee,
    }
    try:
        with db.begin_nested():
            ctx = svc.create(
                subject,
                repo_ctx,
                title=title,
                content=content,
                kind=kind,
                priority=priority,
                assignee=assignee or None,
            )
    except AppdockError as exc:
        return _page(
            request,
            "issue/new.html",
            repo,
            {"form": form, "assignees": _assignees(svc, repo_ctx), "error": exc.message},
            status=400,
        )
    flash(request, f"Issue #{ctx.issue.number} created.")
    return redirect(request, f"/{repo_ctx.full_name}/issues/{ctx.issue.number}")


# ---- the issue page --------------------------------------------------------------------------
@router.get(ONE, response_class=HTMLResponse)
def issue_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, repo_ctx, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(repo_ctx, number)
    view = issue_view(ctx)
    comments, _ = svc.comments(ctx, limit=500)
    changes, _ = svc.changes(ctx, limit=500)
    admin = svc.repos.permission_of(subject, repo_ctx.repo) >= Permission.ADMIN
    by_comment = {c.comment_id: c for c, _u, _m in changes if c.comment_id}
    timeline: list[dict[str, Any]] = []
    for row, user in comments:
        change = by_comment.get(row.id)
        timeline.append(
            {
                "kind": "comment",
                "id": row.id,
                "when": row.created_at.isoformat(),
                "author": _person(user),
                "html": Markup(render_markdown(row.content)),  # noqa: S704 - markdown-it, raw HTML off
                "raw": row.content,
                "mine": user is not None and user.id == subject.user_id,
                "can_delete": (user is not None and user.id == subject.user_id) or admin,
                "changes": _change_lines(change.changes) if change else [],
            }
        )
    for change, user, comment in changes:
        if comment is None:
            timeline.append(
                {
                    "kind": "change",
                    "when": change.created_at.isoformat(),
                    "author": _person(user),
                    "changes": _change_lines(change.changes),
                }
            )
    timeline.sort(key=lambda i: i["when"])
    return _page(
        request,
        "issue/show.html",
        repo,
        {
            "issue": view,
            "content_html": Markup(render_markdown(view.content)),  # noqa: S704 - markdown-it, raw HTML off
            "timeline": timeline,
            "can_edit": viewer is not None and svc.can_edit(subject, ctx),
            "can_delete": repo.can_write,
            "assignees": _assignees(svc, repo_ctx),
        },
    )


_FIELD_LABELS = {
    "state": "status",
    "kind": "kind",
    "priority": "priority",
    "title": "title",
    "content": "description",
    "assignee": "assignee",
}


def _change_lines(changes: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for field, value in changes.items():
        if field not in _FIELD_LABELS:
            continue
        if field == "content":
            out.append({"field": "description", "old": "", "new": "edited"})
            continue
        out.append(
            {
                "field": _FIELD_LABELS[field],
                "old": str(value.get("old") or "—"),
                "new": str(value.get("new") or "—"),
            }
        )
    return out


def _back(request: Request, repo_ctx: RepoContext, number: int) -> Response:
    return redirect(request, f"/{repo_ctx.full_name}/issues/{number}")


@router.post(ONE + "/change")
def issue_change_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    state: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    assignee: Annotated[str | None, Form()] = None,
    title: Annotated[str, Form()] = "",
    content: Annotated[str | None, Form()] = None,
    message: Annotated[str, Form()] = "",
) -> Response:
    svc, repo_ctx, _, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(repo_ctx, number)
    try:
        with db.begin_nested():
            _, change = svc.update(
                subject,
                ctx,
                title=title or None,
                content=content,
                state=state or None,
                kind=kind or None,
                priority=priority or None,
                assignee=UNSET if assignee is None else (assignee or None),
                message=message or None,
            )
        flash(request, "Issue updated." if change else "Nothing changed.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return _back(request, repo_ctx, number)


@router.post(ONE + "/comments")
def issue_comment_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    content: Annotated[str, Form()] = "",
) -> Response:
    svc, repo_ctx, _, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(repo_ctx, number)
    try:
        with db.begin_nested():
            svc.add_comment(subject, ctx, content)
        flash(request, "Comment added.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return _back(request, repo_ctx, number)


@router.post(ONE + "/comments/{comment_id:int}/edit")
def issue_comment_edit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    comment_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    content: Annotated[str, Form()] = "",
) -> Response:
    svc, repo_ctx, _, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(repo_ctx, number)
    try:
        with db.begin_nested():
            svc.edit_comment(subject, ctx, comment_id, content)
        flash(request, "Comment updated.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return _back(request, repo_ctx, number)


@router.post(ONE + "/comments/{comment_id:int}/delete")
def issue_comment_delete(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    comment_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, repo_ctx, _, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(repo_ctx, number)
    try:
        with db.begin_nested():
            svc.delete_comment(subject, ctx, comment_id)
        flash(request, "Comment deleted.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return _back(request, repo_ctx, number)


@router.post(ONE + "/delete")
def issue_delete_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, repo_ctx, _, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(repo_ctx, number)
    try:
        with db.begin_nested():
            svc.delete(subject, ctx)
    except AppdockError as exc:
        flash(request, exc.message, "error")
        return _back(request, repo_ctx, number)
    flash(request, f"Issue #{number} deleted.")
    return redirect(request, f"/{repo_ctx.full_name}/issues")
