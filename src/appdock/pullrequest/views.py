"""HTML pages of pull requests: the list (tabs by state), the create form with a preview of
commits and diff, and the pull request page (description, activity and comments, commits,
files changed with inline comments, reviewers, build statuses, approve / request changes /
merge / decline).

Templates get view models (:class:`PullRequestView`, dicts of primitives), never rows. Every
form posts with the CSRF token; every action goes through :class:`PullRequestService`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel

from appdock.auth.deps import DbDep, SettingsDep
from appdock.core.errors import AppdockError, NotFound
from appdock.core.markup import render_markdown
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.core.urls import Urls
from appdock.git import FileDiff, parse_unified_diff
from appdock.pullrequest.context import PullRequestContext
from appdock.pullrequest.schemas import STATES, pullrequest_read
from appdock.pullrequest.service import MERGE_STRATEGIES, PullRequestService
from appdock.repo.context import RepoContext
from appdock.repo.service import Permission
from appdock.repo.views import (
    RepoView,
    attach_page_modules,
    commit_view,
    finish_page,
    repo_nav_items,
    repo_view,
)
from appdock.web.deps import LoggedIn, Viewer, ViewerView, csrf_protect, viewer_subject
from appdock.web.templating import flash, redirect, render, templates

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

BASE = "/{workspace}/{repo_slug}/pull-requests"
ONE = BASE + "/{number:int}"
PER_PAGE = 25
MAX_DIFF_LINES = 4000
STRATEGY_LABELS = {
    "merge_commit": "Merge commit",
    "squash": "Squash",
    "fast_forward": "Fast forward",
}


# ---- view models -----------------------------------------------------------------------------
class PersonView(BaseModel):
    username: str | None
    display_name: str


class ParticipantView(BaseModel):
    username: str
    display_name: str
    role: str
    state: str | None
    participated_on: str | None


class PullRequestView(BaseModel):
    number: int
    title: str
    description: str
    description_html: str
    state: str
    author: PersonView | None
    source_label: str
    source_branch: str
    source_repo: str | None
    source_commit: str
    destination_branch: str
    destination_commit: str
    merge_commit: str | None
    close_source_branch: bool
    closed_by: PersonView | None
    reason: str
    created_on: str
    updated_on: str
    comment_count: int
    task_count: int
    participants: list[ParticipantView]
    approvals: int
    changes_requested: int
    html_url: str
    is_fork: bool


def _person(user: Any, workspace: Any = None) -> PersonView | None:
    if user is not None:
        return PersonView(username=user.username, display_name=user.display_name)
    if workspace is not None:
        return PersonView(username=None, display_name=workspace.name)
    return None


def pullrequest_view(ctx: PullRequestContext) -> PullRequestView:
    pr = ctx.pr
    participants = [
        ParticipantView(
            username=p.user.username,
            display_name=p.user.display_name,
            role=p.row.role,
            state=p.row.state,
            participated_on=p.row.participated_on.isoformat() if p.row.participated_on else None,
        )
        for p in ctx.participants
    ]
    return PullRequestView(
        number=pr.number,
        title=pr.title,
        description=pr.description,
        description_html=render_markdown(pr.description),
        state=pr.state,
        author=_person(ctx.author, ctx.author_workspace),
        source_label=ctx.source_label,
        source_branch=pr.source_branch,
        source_repo=ctx.source.full_name if ctx.source else None,
        source_commit=pr.source_commit,
        destination_branch=pr.destination_branch,
        destination_commit=pr.destination_commit,
        merge_commit=pr.merge_commit,
        close_source_branch=pr.close_source_branch,
        closed_by=_person(ctx.closed_by),
        reason=pr.reason,
        created_on=pr.created_at.isoformat(),
        updated_on=pr.updated_at.isoformat(),
        comment_count=ctx.comment_count,
        task_count=ctx.task_count,
        participants=participants,
        approvals=sum(1 for p in participants if p.state == "approved"),
        changes_requested=sum(1 for p in participants if p.state == "changes_requested"),
        html_url=f"/{ctx.destination.full_name}/pull-requests/{pr.number}",
        is_fork=ctx.is_fork,
    )


# ---- helpers ---------------------------------------------------------------------------------
def _load(
    db: Any,
    settings: Any,
    viewer: ViewerView | None,
    workspace: str,
    repo_slug: str,
    request: Request | None = None,
) -> tuple[PullRequestService, RepoContext, RepoView, AuthSubject]:
    svc = PullRequestService(db, settings)
    subject = viewer_subject(viewer)
    dest = svc.repository(workspace, repo_slug, subject)
    perm = svc.repos.permission_of(subject, dest.repo)
    if request is not None:
        attach_page_modules(request, db, settings, dest, perm, viewer)
    return svc, dest, repo_view(dest, perm, settings.base_url), subject


def _page(
    request: Request,
    template: str,
    repo: RepoView,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "repo": repo,
        "nav": repo_nav_items(request, repo, "pullrequests"),
        "active": "pullrequests",
        "connect": getattr(request.state, "page_modules", None),
    }
    ctx.update(context)
    return finish_page(request, render(request, template, ctx, status_code=status_code))


def _diff_files(svc: PullRequestService, ctx: PullRequestContext) -> tuple[list[FileDiff], bool]:
    old, new = svc.diff_revisions(ctx)
    files = parse_unified_diff(svc.git(ctx).diff(old, new), max_lines=MAX_DIFF_LINES)
    shown = sum(len(h.lines) for f in files for h in f.hunks)
    return files, shown >= MAX_DIFF_LINES


def _statuses(svc: PullRequestService, ctx: PullRequestContext) -> list[dict[str, Any]]:
    rows, _ = svc.statuses(ctx)
    return [
        {
            "key": s.key,
            "name": s.name or s.key,
            "state": s.state,
            "description": s.description,
            "url": s.url if s.url.startswith(("http://", "https://")) else None,
            "updated_on": s.updated_at.isoformat() if s.updated_at else "",
        }
        for s in rows
    ]


def _branches(svc: PullRequestService, repo: RepoContext) -> list[str]:
    git = svc.repos.git(repo.repo)
    main = repo.repo.mainbranch
    names = [b.name for b in git.branches()]
    return sorted(names, key=lambda n: (n != main, n))


def _source_repos(svc: PullRequestService, dest: RepoContext, subject: AuthSubject) -> list[str]:
    """Repositories a pull request into ``dest`` may come from: itself, its parent, its forks
    (those the viewer can read)."""
    names = [dest.full_name]
    if dest.parent is not None:
        names.append(dest.parent.full_name)
    forks, _ = svc.repos.list_repositories(subject, offset=0, limit=50, fork_of=dest.repo)
    names += [f.full_name for f in forks if f.full_name not in names]
    return names


# ---- dashboard -------------------------------------------------------------------------------
def dashboard_pullrequests(request: Request, viewer: ViewerView | None) -> Markup:
    """The dashboard's "Pull requests" card (``app.state.dashboard_sections``): open pull
    requests waiting for the viewer's review, and those they opened."""
    if viewer is None:
        return Markup("")
    state = request.app.state
    session = state.read_session_factory()
    try:
        svc = PullRequestService(session, state.settings)
        rows = svc.involving(viewer_subject(viewer))
        items = [
            {
                "pr": pullrequest_view(c),
                "repo": c.destination.full_name,
                "reviewing": viewer.id != c.pr.author_user_id,
            }
            for c in rows
        ]
    finally:
        session.close()
    return Markup(  # noqa: S704 - a Jinja template, autoescaped
        templates.get_template("pullrequest/_dashboard.html").render(
            reviewing=[i for i in items if i["reviewing"]],
            mine=[i for i in items if not i["reviewing"]],
        )
    )


# ---- list ------------------------------------------------------------------------------------
@router.get(BASE, response_class=HTMLResponse)
def pullrequest_list(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    state: str = "OPEN",
    q: str = "",
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Response:
    svc, dest, repo, _ = _load(db, settings, viewer, workspace, repo_slug, request)
    state = state.upper()
    states = list(STATES) if state == "ALL" else [state] if state in STATES else ["OPEN"]
    rows, total = svc.search(
        dest,
        states=states,
        text=q.strip() or None,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    counts = svc.count_by_state(dest)
    tabs = [
        {"key": s, "label": s.title(), "count": counts.get(s, 0)}
        for s in ("OPEN", "MERGED", "DECLINED", "SUPERSEDED")
        if s != "SUPERSEDED" or counts.get(s)
    ]
    tabs.append({"key": "ALL", "label": "All", "count": sum(counts.values())})

    def link(p: int) -> str:
        params = {"state": state, "page": p}
        if q:
            params["q"] = q
        return "?" + urlencode(params)

    return _page(
        request,
        "pullrequest/list.html",
        repo,
        {
            "pullrequests": [pullrequest_view(c) for c in rows],
            "total": total,
            "state": state if state in (*STATES, "ALL") else "OPEN",
            "tabs": tabs,
            "q": q,
            "page": page,
            "prev_url": link(page - 1) if page > 1 else None,
            "next_url": link(page + 1) if page * PER_PAGE < total else None,
        },
    )


# ---- create ----------------------------------------------------------------------------------
@router.get(BASE + "/new", response_class=HTMLResponse)
def pullrequest_new(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    source: str = "",
    destination: str = "",
    source_repo: str = "",
) -> Response:
    svc, dest, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    return _new_form(request, svc, dest, repo, subject, source, destination, source_repo, {}, None)


def _new_form(
    request: Request,
    svc: PullRequestService,
    dest: RepoContext,
    repo: RepoView,
    subject: AuthSubject,
    source: str,
    destination: str,
    source_repo: str,
    form: dict[str, Any],
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    repos = _source_repos(svc, dest, subject)
    source_repo = source_repo if source_repo in repos else dest.full_name
    src_ctx = dest
    if source_repo != dest.full_name:
        ws, _, slug = source_repo.partition("/")
        try:
            src_ctx = svc.repos.get(ws, slug, subject, scope=Scope.PULLREQUEST)
        except AppdockError:
            src_ctx, source_repo = dest, dest.full_name
    source_branches = _branches(svc, src_ctx)
    dest_branches = _branches(svc, dest)
    destination = destination or (dest.repo.mainbranch or "")
    if not source:
        source = next((b for b in source_branches if b != destination), "")
    preview: dict[str, Any] | None = None
    src_git = svc.repos.git(src_ctx.repo)
    dest_git = svc.repos.git(dest.repo)
    src_tip = src_git.resolve(f"refs/heads/{source}") if source else None
    dest_tip = dest_git.resolve(f"refs/heads/{destination}") if destination else None
    if src_tip and dest_tip and src_ctx.repo.id == dest.repo.id:
        base = dest_git.merge_base(src_tip, dest_tip) or dest_tip
        commits = dest_git.log([src_tip], [dest_tip], limit=50)
        names = svc.repos.store.users_by_emails(c.author.email for c in commits)
        usernames = {e: u.username for e, u in names.items()}
        files = parse_unified_diff(dest_git.diff(base, src_tip), max_lines=MAX_DIFF_LINES)
        preview = {
            "commits": [commit_view(c, usernames) for c in commits],
            "files": files,
            "added": sum(f.added for f in files),
            "removed": sum(f.removed for f in files),
            "same": src_tip == dest_tip or dest_git.is_ancestor(src_tip, dest_tip),
        }
        if commits and "title" not in form:
            form["title"] = (
                commits[0].summary if len(commits) == 1 else source.replace("-", " ").capitalize()
            )
    elif src_tip and dest_tip:
        preview = {"commits": [], "files": [], "added": 0, "removed": 0, "same": False}
        preview["fork"] = True
    members = [
        {"uuid": u.uuid, "username": u.username, "display_name": u.display_name}
        for u in svc.repos.store.users_by_ids(svc.member_ids(dest)).values()
        if u.id != subject.user_id
    ]
    return _page(
        request,
        "pullrequest/new.html",
        repo,
        {
            "source_repos": repos,
            "source_repo": source_repo,
            "source_branches": source_branches,
            "dest_branches": dest_branches,
            "source": source,
            "destination": destination,
            "preview": preview,
            "form": form,
            "members": sorted(members, key=lambda m: m["display_name"].lower()),
            "error": error,
        },
        status_code=status_code,
    )


@router.post(BASE + "/new", response_class=HTMLResponse)
def pullrequest_create(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    destination: Annotated[str, Form()] = "",
    source_repo: Annotated[str, Form()] = "",
    reviewers: Annotated[list[str] | None, Form()] = None,
    close_source_branch: Annotated[str, Form()] = "",
) -> Response:
    svc, dest, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    form = {"title": title, "description": description, "reviewers": reviewers or []}
    try:
        with db.begin_nested():
            ctx, created = svc.create(
                subject,
                dest,
                title=title,
                source_branch=source,
                source_repository=source_repo or None,
                destination_branch=destination or None,
                description=description,
                close_source_branch=bool(close_source_branch),
                reviewers=[r for r in reviewers or [] if r],
            )
    except AppdockError as exc:
        return _new_form(
            request, svc, dest, repo, subject, source, destination, source_repo, form,
            exc.message, status_code=400,
        )  # fmt: skip
    flash(
        request,
        f"Pull request #{ctx.pr.number} opened."
        if created
        else f"Pull request #{ctx.pr.number} already existed; it was updated.",
    )
    return redirect(request, f"/{dest.full_name}/pull-requests/{ctx.pr.number}")


# ---- the pull request page -------------------------------------------------------------------
@router.get(ONE, response_class=HTMLResponse)
def pullrequest_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    tab: str = "overview",
) -> Response:
    svc, dest, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(dest, number)
    view = pullrequest_view(ctx)
    modules = getattr(request.state, "page_modules", None)
    if modules is not None:  # the `pullrequest` context root of app modules, built if needed
        urls = Urls(settings.base_url)
        modules.add_object(
            "pullrequest", lambda: pullrequest_read(ctx, urls).model_dump(mode="json")
        )
        # named to the bridge: proxyRequest and dialog URLs are filled for this pull request
        modules.setup.page_context["pullrequest"] = number
    commits, commit_total = svc.commits(ctx, limit=100)
    names = svc.repos.store.users_by_emails(c.author.email for c in commits)
    usernames = {e: u.username for e, u in names.items()}
    statuses = svc.store.status_states(dest.repo.id, [c.hash for c in commits])
    comments = []
    inline: dict[str, list[dict[str, Any]]] = {}
    for row, user, ws in svc.activity_comments(ctx):
        item = {
            "id": row.id,
            "author": _person(user, ws),
            "html": Markup(render_markdown(row.content)),  # noqa: S704 - markdown-it, raw HTML off
            "raw": row.content,
            "created_on": row.created_at.isoformat(),
            "edited": (row.updated_at - row.created_at).total_seconds() > 1,
            "mine": (user is not None and subject.user_id == user.id),
            "parent_id": row.parent_id,
            "inline_path": row.inline_path,
            "inline_line": row.inline_to or row.inline_from,
        }
        if modules is not None:  # app linkers (their regex matches become links)
            item["html"] = modules.linkify(item["html"])
        comments.append(item)
        if row.inline_path:
            inline.setdefault(row.inline_path, []).append(item)
    perm = svc.repos.permission_of(subject, dest.repo)
    me = next(
        (p for p in view.participants if viewer is not None and p.username == viewer.username),
        None,
    )
    files: list[FileDiff] = []
    truncated = False
    if tab == "diff":
        files, truncated = _diff_files(svc, ctx)
    diffstat = svc.diffstat(ctx)
    timeline = _timeline(view, comments)
    return _page(
        request,
        "pullrequest/show.html",
        repo,
        {
            "pr": view,
            # markdown-it output with raw HTML disabled: safe to insert.
            "description_html": Markup(view.description_html),  # noqa: S704
            "tab": tab if tab in ("overview", "commits", "diff") else "overview",
            "commits": [commit_view(c, usernames, statuses.get(c.hash)) for c in commits],
            "commit_total": commit_total,
            "comments": comments,
            "timeline": timeline,
            "inline": inline,
            "files": files,
            "truncated": truncated,
            "file_count": len(diffstat),
            "added": sum(c.lines_added for c in diffstat),
            "removed": sum(c.lines_removed for c in diffstat),
            "changed_paths": [c.new_path or c.old_path for c in diffstat],
            "statuses": _statuses(svc, ctx),
            "can_merge": view.state == "OPEN" and perm >= Permission.WRITE,
            "can_edit": view.state == "OPEN" and svc.can_edit(subject, ctx),
            "can_review": view.state == "OPEN" and viewer is not None,
            "my_state": me.state if me else None,
            "strategies": [(s, STRATEGY_LABELS[s]) for s in MERGE_STRATEGIES],
            "mergeable": svc.mergeable(ctx) if view.state == "OPEN" else None,
        },
    )


def _timeline(view: PullRequestView, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comments and review events in time order for the overview tab."""
    items: list[dict[str, Any]] = [
        {"kind": "comment", "when": c["created_on"], "comment": c}
        for c in comments
        if not c["inline_path"]
    ]
    for p in view.participants:
        if p.state and p.participated_on:
            items.append({"kind": p.state, "when": p.participated_on, "who": p})
    if view.state != "OPEN":
        items.append({"kind": view.state.lower(), "when": view.updated_on, "who": view.closed_by})
    return sorted(items, key=lambda i: i["when"])


def _back(request: Request, dest: RepoContext, number: int, tab: str = "") -> Response:
    url = f"/{dest.full_name}/pull-requests/{number}" + (f"?tab={tab}" if tab else "")
    return redirect(request, url)


def _act(
    request: Request,
    db: Any,
    settings: Any,
    viewer: ViewerView,
    workspace: str,
    repo_slug: str,
    number: int,
    action: Any,
    success: str,
    tab: str = "",
) -> Response:
    svc, dest, _, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(dest, number)
    try:
        with db.begin_nested():
            action(svc, subject, ctx)
        flash(request, success)
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return _back(request, dest, number, tab)


@router.post(ONE + "/approve")
def approve_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    undo: Annotated[str, Form()] = "",
) -> Response:
    if undo:
        return _act(
            request, db, settings, viewer, workspace, repo_slug, number,
            lambda s, u, c: s.unapprove(u, c), "Approval withdrawn.",
        )  # fmt: skip
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.approve(u, c), "Approved.",
    )  # fmt: skip


@router.post(ONE + "/request-changes")
def request_changes_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    undo: Annotated[str, Form()] = "",
) -> Response:
    if undo:
        return _act(
            request, db, settings, viewer, workspace, repo_slug, number,
            lambda s, u, c: s.remove_change_request(u, c), "Change request withdrawn.",
        )  # fmt: skip
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.request_changes(u, c), "Changes requested.",
    )  # fmt: skip


@router.post(ONE + "/merge")
def merge_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    merge_strategy: Annotated[str, Form()] = "merge_commit",
    message: Annotated[str, Form()] = "",
    close_source_branch: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.merge(
            u, c, strategy=merge_strategy, message=message or None,
            close_source_branch=bool(close_source_branch),
        ),
        f"Pull request #{number} merged.",
    )  # fmt: skip


@router.post(ONE + "/decline")
def decline_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.decline(u, c, reason), f"Pull request #{number} declined.",
    )  # fmt: skip


@router.post(ONE + "/comments")
def comment_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    content: Annotated[str, Form()] = "",
    path: Annotated[str, Form()] = "",
    line: Annotated[str, Form()] = "",
    parent: Annotated[str, Form()] = "",
) -> Response:
    line_no = int(line) if line.strip().isdigit() and int(line) > 0 else None
    tab = "diff" if path else ""
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.add_comment(
            u, c, content, inline_path=path or None, inline_to=line_no,
            parent_id=int(parent) if parent.isdigit() else None,
        ),
        "Comment added.", tab,
    )  # fmt: skip


@router.post(ONE + "/comments/{comment_id:int}/edit")
def comment_edit_submit(
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
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.edit_comment(u, c, comment_id, content), "Comment updated.",
    )  # fmt: skip


@router.post(ONE + "/comments/{comment_id:int}/delete")
def comment_delete_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    comment_id: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    return _act(
        request, db, settings, viewer, workspace, repo_slug, number,
        lambda s, u, c: s.delete_comment(u, c, comment_id), "Comment deleted.",
    )  # fmt: skip


@router.get(ONE + "/edit", response_class=HTMLResponse)
def edit_form(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, dest, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(dest, number)
    if not svc.can_edit(subject, ctx):
        raise NotFound("there is nothing here you can edit")
    return _page(
        request,
        "pullrequest/edit.html",
        repo,
        {"pr": pullrequest_view(ctx), "dest_branches": _branches(svc, dest), "error": None},
    )


@router.post(ONE + "/edit", response_class=HTMLResponse)
def edit_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    number: int,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    destination: Annotated[str, Form()] = "",
    close_source_branch: Annotated[str, Form()] = "",
) -> Response:
    svc, dest, repo, subject = _load(db, settings, viewer, workspace, repo_slug, request)
    ctx = svc.get(dest, number)
    try:
        with db.begin_nested():
            svc.update(
                subject,
                ctx,
                title=title,
                description=description,
                destination_branch=destination or None,
                close_source_branch=bool(close_source_branch),
            )
    except AppdockError as exc:
        view = pullrequest_view(ctx).model_copy(update={"title": title, "description": description})
        return _page(
            request,
            "pullrequest/edit.html",
            repo,
            {"pr": view, "dest_branches": _branches(svc, dest), "error": exc.message},
            status_code=400,
        )
    flash(request, "Pull request updated.")
    return _back(request, dest, number)
