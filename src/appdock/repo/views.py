"""HTML pages of repositories: create, overview, source tree and files, commits, a commit with its
diff and build statuses, branches, settings, fork.

Templates get view models and dicts of primitives, never rows. The left sidebar of every
repository page is :func:`repo_nav_items`; other domains add entries through
``app.state.repo_nav`` (see its docstring).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from pydantic import BaseModel
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from appdock.auth.deps import DbDep, SettingsDep
from appdock.core.errors import AppdockError, BadRequest, NotFound
from appdock.core.markup import render_markdown
from appdock.core.subject import AuthSubject
from appdock.core.urls import Urls
from appdock.git import (
    Commit,
    GitRepo,
    PathNotFound,
    Ref,
    RevisionNotFound,
    TreeEntry,
    parse_unified_diff,
)
from appdock.repo.context import RepoContext
from appdock.repo.schemas import branch_read, commit_read
from appdock.repo.service import Permission, RepoService
from appdock.repo.source import (
    blob_media_type,
    diff_revisions,
    is_utf8,
    resolve_ref_path,
    sniff_binary,
)
from appdock.web.deps import LoggedIn, Viewer, ViewerView, csrf_protect, viewer_subject
from appdock.web.templating import flash, redirect, render, templates

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
# /{workspace}/{repo_slug}[/...]: registered after every specific page route.
repository_router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

COMMITS_PER_PAGE = 30
MAX_DISPLAY_BYTES = 1024 * 1024
MAX_HIGHLIGHT_BYTES = 256 * 1024
MAX_DIFF_LINES = 4000
README_NAMES = ("readme.md", "readme.markdown", "readme", "readme.txt", "readme.rst")


# ---- view models -----------------------------------------------------------------------------
class RepoView(BaseModel):
    workspace: str
    workspace_name: str
    slug: str
    name: str
    full_name: str
    description: str
    is_private: bool
    mainbranch: str | None
    clone_url: str
    html_url: str
    permission: str
    can_write: bool
    can_admin: bool
    language: str
    website: str
    fork_policy: str
    parent: str | None
    updated_on: str | None
    uuid: str


class CommitView(BaseModel):
    hash: str
    short: str
    summary: str
    body: str
    author_name: str
    author_email: str
    author_username: str | None
    date: str
    parents: list[str]
    statuses: list[str] = []


class RefView(BaseModel):
    kind: str
    name: str
    target: str
    summary: str
    author_name: str
    date: str
    ahead: int | None = None
    behind: int | None = None
    is_main: bool = False


class EntryView(BaseModel):
    name: str
    path: str
    kind: str
    size: int | None
    href: str
    is_link: bool
    is_submodule: bool


def repo_view(ctx: RepoContext, perm: Permission, base_url: str) -> RepoView:
    repo = ctx.repo
    return RepoView(
        workspace=ctx.workspace.slug,
        workspace_name=ctx.workspace.name,
        slug=repo.slug,
        name=repo.name,
        full_name=ctx.full_name,
        description=repo.description,
        is_private=repo.is_private,
        mainbranch=repo.mainbranch,
        clone_url=f"{base_url}/{ctx.workspace.slug}/{repo.slug}.git",
        html_url=f"/{ctx.workspace.slug}/{repo.slug}",
        permission=perm.label,
        can_write=perm >= Permission.WRITE,
        can_admin=perm >= Permission.ADMIN,
        language=repo.language,
        website=repo.website,
        fork_policy=repo.fork_policy,
        parent=ctx.parent.full_name if ctx.parent else None,
        updated_on=repo.updated_at.isoformat() if repo.updated_at else None,
        uuid=repo.uuid,
    )


def commit_view(
    c: Commit, usernames: dict[str, str], statuses: list[str] | None = None
) -> CommitView:
    summary, _, body = c.message.strip().partition("\n")
    return CommitView(
        hash=c.hash,
        short=c.hash[:12],
        summary=summary,
        body=body.strip(),
        author_name=c.author.name,
        author_email=c.author.email,
        author_username=usernames.get(c.author.email.lower()),
        date=c.author.date.isoformat(),
        parents=list(c.parents),
        statuses=statuses or [],
    )


def ref_view(ref: Ref, main: str | None) -> RefView:
    c = ref.commit
    return RefView(
        kind=ref.kind,
        name=ref.name,
        target=c.hash if c else ref.object,
        summary=c.summary if c else "",
        author_name=c.author.name if c else "",
        date=c.author.date.isoformat() if c else "",
        is_main=ref.name == main,
    )


# ---- the sidebar -----------------------------------------------------------------------------
NavSource = dict[str, str] | Callable[[Request, RepoView], Any]


def repo_nav_items(request: Request, repo: RepoView, active: str) -> list[dict[str, Any]]:
    """The repository sidebar: Source, Commits, Branches, Pull requests, Issues, then entries from
    ``app.state.repo_nav``, then Settings (admins only).

    ``app.state.repo_nav`` holds dicts ``{"key", "label", "href"}`` whose href may use
    ``{workspace}`` and ``{repo_slug}``, or callables ``(request, repo_view) -> dict | list[dict]
    | None`` for conditional entries (an app's repoPage with conditions):

        >>> app.state.repo_nav.append({"key": "pipelines", "label": "Pipelines",
        ...                            "href": "/{workspace}/{repo_slug}/pipelines"})
    """
    base = repo.html_url
    items: list[dict[str, Any]] = [
        {
            "key": "overview",
            "label": "Source",
            "href": f"{base}/src/{quote(repo.mainbranch or '', safe='/')}".rstrip("/"),
            "icon": "source",
        },
        {"key": "commits", "label": "Commits", "href": f"{base}/commits", "icon": "commits"},
        {"key": "branches", "label": "Branches", "href": f"{base}/branches", "icon": "branches"},
        {
            "key": "pullrequests",
            "label": "Pull requests",
            "href": f"{base}/pull-requests",
            "icon": "pullrequests",
        },
        {"key": "issues", "label": "Issues", "href": f"{base}/issues", "icon": "issues"},
    ]
    if repo.mainbranch is None:
        items[0]["href"] = base
    for source in getattr(request.app.state, "repo_nav", []):
        extra = source(request, repo) if callable(source) else source
        for item in extra if isinstance(extra, list) else [extra] if extra else []:
            entry = dict(item)
            entry["href"] = str(entry.get("href", "")).format(
                workspace=repo.workspace, repo_slug=repo.slug
            )
            items.append(entry)
    if repo.can_admin:
        items.append(
            {
                "key": "settings",
                "label": "Repository settings",
                "href": f"{base}/admin",
                "icon": "settings",
            }
        )
    for item in items:
        item["active"] = item.get("key") == active
    return items


# ---- helpers ---------------------------------------------------------------------------------
def _load(
    request: Request,
    db: Any,
    settings: Any,
    viewer: ViewerView | None,
    workspace: str,
    repo_slug: str,
    level: Permission = Permission.READ,
) -> tuple[RepoService, RepoContext, RepoView, AuthSubject]:
    svc = RepoService(db, settings)
    subject = viewer_subject(viewer)
    ctx = svc.get(workspace, repo_slug, subject, level)
    perm = svc.permission_of(subject, ctx.repo)
    attach_page_modules(request, db, settings, ctx, perm, viewer)
    return svc, ctx, repo_view(ctx, perm, settings.base_url), subject


def attach_page_modules(
    request: Request,
    db: Any,
    settings: Any,
    ctx: RepoContext,
    perm: Permission,
    viewer: ViewerView | None,
) -> Any:
    """Let the app platform attach this page's UI modules (``app.state.page_modules``: a callable
    ``(request, session, settings, repo_ctx, permission, viewer)`` that stores them on
    ``request.state.page_modules``; templates get them as ``connect``)."""
    hook = getattr(request.app.state, "page_modules", None)
    return hook(request, db, settings, ctx, int(perm), viewer) if hook is not None else None


def page_modules(request: Request) -> Any:
    """This page's app modules (``connect.ui.pages.PageModules``), or None without the app
    platform. Views add context objects to it: ``add_object(root, factory)``,
    ``add_rows(root, {name: factory})``; factories run only when a module is resolved."""
    return getattr(request.state, "page_modules", None)


def finish_page(request: Request, response: HTMLResponse) -> HTMLResponse:
    """Apply what the page's app modules need on the response (their Content-Security-Policy)."""
    modules = getattr(request.state, "page_modules", None)
    if modules is not None:
        modules.apply(response)
    return response


def _page(
    request: Request,
    template: str,
    repo: RepoView,
    active: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    ctx = {
        "repo": repo,
        "nav": repo_nav_items(request, repo, active),
        "active": active,
        "connect": getattr(request.state, "page_modules", None),
    }
    ctx.update(context)
    return finish_page(request, render(request, template, ctx, status_code=status_code))


def _usernames(svc: RepoService, commits: list[Commit]) -> dict[str, str]:
    users = svc.store.users_by_emails(c.author.email for c in commits)
    return {email: u.username for email, u in users.items()}


def _refs_for_selector(git: GitRepo) -> dict[str, list[str]]:
    names = git.text("for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags")
    branches, tags = [], []
    for line in names.splitlines():
        if line.startswith("refs/heads/"):
            branches.append(line[len("refs/heads/") :])
        elif line.startswith("refs/tags/"):
            tags.append(line[len("refs/tags/") :])
    return {"branches": sorted(branches), "tags": sorted(tags)}


def _crumbs(repo: RepoView, ref: str, path: str) -> list[dict[str, str]]:
    crumbs = [{"name": repo.slug, "href": f"{repo.html_url}/src/{quote(ref, safe='/')}"}]
    acc = ""
    for part in [p for p in path.split("/") if p]:
        acc = f"{acc}/{part}" if acc else part
        crumbs.append(
            {
                "name": part,
                "href": f"{repo.html_url}/src/{quote(ref, safe='/')}/{quote(acc, safe='/')}",
            }
        )
    return crumbs


def _readme(
    git: GitRepo, commit: str, entries: list[TreeEntry], repo: RepoView, ref: str, directory: str
) -> dict[str, Any] | None:
    by_name = {e.name.lower(): e for e in entries if not e.is_dir}
    for candidate in README_NAMES:
        entry = by_name.get(candidate)
        if entry is None or (entry.size or 0) > MAX_DISPLAY_BYTES:
            continue
        data = git.read_blob(entry.oid)
        if sniff_binary(data):
            return None
        text = data.decode("utf-8", errors="replace")
        ref_q = quote(ref, safe="/")
        if entry.name.lower().endswith((".md", ".markdown")):
            html = render_markdown(
                text,
                link_base=f"{repo.html_url}/src/{ref_q}/",
                image_base=f"{repo.html_url}/raw/{ref_q}/",
                directory=directory,
            )
            return {"name": entry.name, "html": Markup(html), "text": None}  # noqa: S704 - rendered by markdown-it (no raw HTML) or Jinja (autoescaped)
        return {"name": entry.name, "html": None, "text": text}
    return None


def _highlight_lines(path: str, text: str) -> list[Markup]:
    """Each line of a file as highlighted, escaped HTML (pygments escapes what it emits)."""
    if len(text) > MAX_HIGHLIGHT_BYTES:
        lexer: Any = TextLexer(stripnl=False)
    else:
        try:
            lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
        except ClassNotFound:
            lexer = TextLexer(stripnl=False)
    html = highlight(text, lexer, HtmlFormatter(nowrap=True))
    lines = html.split("\n")
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()
    return [Markup(line) for line in lines]  # noqa: S704 - pygments output is escaped


# ---- create ----------------------------------------------------------------------------------
def _creatable_workspaces(svc: RepoService, viewer: ViewerView) -> list[dict[str, str]]:
    return [{"slug": w.slug, "name": w.name} for w in svc.store.member_workspaces(viewer.id)]


def _projects(svc: RepoService, workspace: str) -> list[dict[str, str]]:
    ws = svc.store.workspace(workspace)
    if ws is None:
        return []
    return [{"key": p.key, "name": p.name} for p in svc.store.projects_of(ws.id)]


@router.get("/repositories/new", response_class=HTMLResponse)
def new_repository_form(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    workspace: str | None = None,
) -> Response:
    svc = RepoService(db, settings)
    workspaces = _creatable_workspaces(svc, viewer)
    chosen = workspace or (workspaces[0]["slug"] if workspaces else viewer.username)
    return render(
        request,
        "repo/new.html",
        {
            "workspaces": workspaces,
            "projects": _projects(svc, chosen),
            "form": {"workspace": chosen, "is_private": True},
            "error": None,
        },
    )


@router.post("/repositories/new", response_class=HTMLResponse)
def new_repository_submit(
    request: Request,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    workspace: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    slug: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    visibility: Annotated[str, Form()] = "private",
) -> Response:
    svc = RepoService(db, settings)
    slug = (slug or _slugify(name)).strip()
    form = {
        "workspace": workspace,
        "name": name,
        "slug": slug,
        "description": description,
        "project": project,
        "is_private": visibility != "public",
    }
    try:
        with db.begin_nested():
            ws = svc.workspace(workspace)
            ctx = svc.create(
                viewer_subject(viewer),
                ws,
                slug,
                name=name.strip() or slug,
                description=description.strip(),
                is_private=visibility != "public",
                project_key=project or None,
            )
    except AppdockError as exc:
        return render(
            request,
            "repo/new.html",
            {
                "workspaces": _creatable_workspaces(svc, viewer),
                "projects": _projects(svc, workspace),
                "form": form,
                "error": exc.message,
            },
            status_code=400,
        )
    flash(request, f"Repository {ctx.full_name} created.")
    return redirect(request, f"/{ctx.workspace.slug}/{ctx.repo.slug}")


def _slugify(name: str) -> str:
    out = []
    for ch in name.strip().lower():
        if (ch.isalnum() and ch.isascii()) or ch in "-_.":
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-.")[:62]


# ---- workspace and dashboard fragments -------------------------------------------------------
def workspace_repositories(request: Request, ws: Any, viewer_id: int | None) -> Markup:
    """The repositories section of a workspace page (``app.state.workspace_fragments``)."""
    state = request.app.state
    session = state.read_session_factory()
    try:
        svc = RepoService(session, state.settings)
        subject = (
            AuthSubject(kind="session", user_id=viewer_id) if viewer_id else AuthSubject.anonymous()
        )
        rows, total = svc.list_repositories(
            subject, offset=0, limit=100, workspace=ws, sort="-updated_on"
        )
        repos = [
            repo_view(c, svc.permission_of(subject, c.repo), state.settings.base_url) for c in rows
        ]
        can_create = viewer_id is not None and svc.can_create_in(subject, ws)
    finally:
        session.close()
    return Markup(  # noqa: S704 - rendered by markdown-it (no raw HTML) or Jinja (autoescaped)
        templates.get_template("repo/_workspace_repos.html").render(
            repos=repos, total=total, ws_slug=ws.slug, can_create=can_create
        )
    )


def dashboard_repositories(request: Request, viewer: ViewerView | None) -> Markup:
    """The dashboard's "Your repositories" card (``app.state.dashboard_sections``)."""
    if viewer is None:
        return Markup("")
    state = request.app.state
    session = state.read_session_factory()
    try:
        svc = RepoService(session, state.settings)
        subject = viewer_subject(viewer)
        rows, total = svc.list_repositories(
            subject, offset=0, limit=20, role="member", sort="-updated_on"
        )
        repos = [
            repo_view(c, svc.permission_of(subject, c.repo), state.settings.base_url) for c in rows
        ]
    finally:
        session.close()
    return Markup(  # noqa: S704 - rendered by markdown-it (no raw HTML) or Jinja (autoescaped)
        templates.get_template("repo/_dashboard_repos.html").render(repos=repos, total=total)
    )


# ---- repository pages ------------------------------------------------------------------------
@repository_router.get("/{workspace}/{repo_slug}", response_class=HTMLResponse)
def repository_overview(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    git = svc.git(ctx.repo)
    main = ctx.repo.mainbranch
    head = git.resolve(main) if main else None
    if head is None:
        return _page(request, "repo/empty.html", repo, "overview", {})
    return _source_page(request, svc, ctx, repo, main or head, head, "", overview=True)


def _source_page(
    request: Request,
    svc: RepoService,
    ctx: RepoContext,
    repo: RepoView,
    ref: str,
    commit: str,
    path: str,
    *,
    overview: bool = False,
) -> Response:
    git = svc.git(ctx.repo)
    try:
        entry = git.entry(commit, path)
    except PathNotFound as exc:
        raise NotFound(exc.message) from exc
    if entry is None:
        raise NotFound(f"{path!r} does not exist at {ref}")
    refs = _refs_for_selector(git)
    last = git.log([commit], limit=1, paths=[path] if path else ())
    usernames = _usernames(svc, last)
    common = {
        "ref": ref,
        "ref_q": quote(ref, safe="/"),
        "commit": commit,
        "path": path,
        "crumbs": _crumbs(repo, ref, path),
        "refs": refs,
        "last_commit": commit_view(last[0], usernames) if last else None,
    }
    if entry.is_dir:
        entries = git.tree(commit, path)
        views = [
            EntryView(
                name=e.name,
                path=e.path,
                kind=e.kind,
                size=e.size,
                href=f"{repo.html_url}/src/{quote(ref, safe='/')}/{quote(e.path, safe='/')}",
                is_link=e.is_link,
                is_submodule=e.is_submodule,
            )
            for e in entries
        ]
        recent: list[CommitView] = []
        if overview:
            commits = git.log([commit], limit=5)
            names = _usernames(svc, commits)
            statuses = svc.store.status_summaries(ctx.repo.id, [c.hash for c in commits])
            recent = [commit_view(c, names, statuses.get(c.hash)) for c in commits]
        return _page(
            request,
            "repo/source.html",
            repo,
            "overview",
            {
                **common,
                "entries": views,
                "readme": _readme(git, commit, entries, repo, ref, path),
                "overview": overview,
                "recent": recent,
                "branch_count": len(refs["branches"]),
                "tag_count": len(refs["tags"]),
            },
        )
    size = entry.size or 0
    file: dict[str, Any] = {
        "name": entry.name,
        "size": size,
        "binary": False,
        "too_large": False,
        "lines": [],
        "markdown": None,
        "link_target": None,
        "submodule": entry.is_submodule,
        "image": False,
    }
    if entry.is_submodule:
        pass
    elif size > MAX_DISPLAY_BYTES:
        file["too_large"] = True
    else:
        data = git.read_blob(entry.oid)
        if sniff_binary(data) or (not is_utf8(data[:8192]) and b"\x00" in data):
            file["binary"] = True
            media = blob_media_type(entry.path, data[:8192], True)
            file["image"] = media.startswith("image/")
        else:
            text = data.decode("utf-8", errors="replace")
            if entry.is_link:
                file["link_target"] = text
            file["lines"] = _highlight_lines(entry.path, text)
            if (
                entry.name.lower().endswith((".md", ".markdown"))
                and request.query_params.get("view") != "code"
            ):
                directory = path.rsplit("/", 1)[0] if "/" in path else ""
                file["markdown"] = Markup(  # noqa: S704 - rendered by markdown-it (no raw HTML) or Jinja (autoescaped)
                    render_markdown(
                        text,
                        link_base=f"{repo.html_url}/src/{quote(ref, safe='/')}/",
                        image_base=f"{repo.html_url}/raw/{quote(ref, safe='/')}/",
                        directory=directory,
                    )
                )
    modules = page_modules(request)
    if modules is not None:  # fileViews match on this; {file.*} context parameters
        modules.add_object("file", lambda: _file_json(entry.name, path, commit, size, file))
        modules.update_evaluation(file_is_binary=bool(file["binary"]))
    return _page(
        request,
        "repo/file.html",
        repo,
        "overview",
        {
            **common,
            "file": file,
            "fileviewer": request.query_params.get("fileviewer", ""),
            "raw_url": f"{repo.html_url}/raw/{quote(ref, safe='/')}/{quote(path, safe='/')}",
            "history_url": f"{repo.html_url}/commits/{quote(commit)}?path={quote(path)}",
        },
    )


def _file_json(
    name: str, path: str, commit: str, size: int, file: dict[str, Any]
) -> dict[str, Any]:
    """The ``file`` context object of app modules (REST 2.0 ``commit_file``, plus ``name`` and
    the guessed ``mimetype`` fileViews match on)."""
    guessed = mimetypes.guess_type(name, strict=False)[0]
    mimetype = guessed or ("application/octet-stream" if file["binary"] else "text/plain")
    return {
        "type": "commit_file",
        "path": path,
        "escaped_path": path,
        "name": name,
        "size": size,
        "mimetype": mimetype,
        "attributes": ["binary"] if file["binary"] else [],
        "commit": {"type": "commit", "hash": commit},
    }


@repository_router.get("/{workspace}/{repo_slug}/src", response_class=HTMLResponse)
def source_root(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    _svc, _ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    if repo.mainbranch is None:
        return RedirectResponse(repo.html_url, status_code=303)
    return RedirectResponse(f"{repo.html_url}/src/{quote(repo.mainbranch, safe='/')}", 303)


@repository_router.get("/{workspace}/{repo_slug}/src/{rest:path}", response_class=HTMLResponse)
def source_path(
    request: Request,
    workspace: str,
    repo_slug: str,
    rest: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    git = svc.git(ctx.repo)
    segments = [s for s in rest.split("/") if s]
    resolved = resolve_ref_path(git, segments)
    if resolved is None:
        raise NotFound(f"no branch, tag or commit named {segments[0] if segments else ''!r}")
    commit, path = resolved
    ref = "/".join(segments[: len(segments) - len([p for p in path.split("/") if p])])
    return _source_page(request, svc, ctx, repo, ref, commit, path)


@repository_router.get("/{workspace}/{repo_slug}/raw/{rest:path}")
def raw_file(
    request: Request,
    workspace: str,
    repo_slug: str,
    rest: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, ctx, _repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    git = svc.git(ctx.repo)
    resolved = resolve_ref_path(git, rest.split("/"))
    if resolved is None:
        raise NotFound("no such revision")
    commit, path = resolved
    entry = git.entry(commit, path) if path else None
    if entry is None or entry.is_dir or entry.is_submodule:
        raise NotFound(f"{path!r} is not a file at this revision")
    head = git.read_blob(entry.oid, limit=8192)
    media = blob_media_type(entry.path, head, sniff_binary(head))
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'"}
    if entry.size is not None:
        headers["Content-Length"] = str(entry.size)
    return StreamingResponse(git.stream_blob(entry.oid), media_type=media, headers=headers)


def _commit_list(
    request: Request,
    svc: RepoService,
    ctx: RepoContext,
    repo: RepoView,
    ref: str | None,
    page: int,
    path: str | None,
) -> Response:
    git = svc.git(ctx.repo)
    include = [ref] if ref else []
    try:
        commits = git.log(
            include,
            skip=(page - 1) * COMMITS_PER_PAGE,
            limit=COMMITS_PER_PAGE + 1,
            paths=[path] if path else (),
            all_refs=not include,
        )
    except RevisionNotFound as exc:
        raise NotFound(exc.message) from exc
    except PathNotFound as exc:
        raise BadRequest(exc.message) from exc
    has_next = len(commits) > COMMITS_PER_PAGE
    commits = commits[:COMMITS_PER_PAGE]
    names = _usernames(svc, commits)
    statuses = svc.store.status_summaries(ctx.repo.id, [c.hash for c in commits])
    views = [commit_view(c, names, statuses.get(c.hash)) for c in commits]
    groups: list[dict[str, Any]] = []
    for v in views:
        day = v.date[:10]
        if not groups or groups[-1]["day"] != day:
            groups.append({"day": day, "commits": []})
        groups[-1]["commits"].append(v)
    return _page(
        request,
        "repo/commits.html",
        repo,
        "commits",
        {
            "groups": groups,
            "ref": ref,
            "page": page,
            "has_next": has_next,
            "path": path,
            "refs": _refs_for_selector(git),
            "empty": not views and page == 1,
        },
    )


@repository_router.get("/{workspace}/{repo_slug}/commits", response_class=HTMLResponse)
def commits_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    path: str | None = None,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    return _commit_list(request, svc, ctx, repo, None, page, path)


@repository_router.get(
    "/{workspace}/{repo_slug}/commits/branch/{name:path}", response_class=HTMLResponse
)
def branch_commits_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    name: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    path: str | None = None,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    branch = svc.git(ctx.repo).branch(name)
    if branch is None:
        raise NotFound(f"branch {name!r} not found")
    modules = page_modules(request)
    if modules is not None and branch.commit is not None:
        urls = Urls(settings.base_url)
        modules.add_object("branch", lambda: branch_read(ctx, branch, urls).model_dump(mode="json"))
    return _commit_list(request, svc, ctx, repo, f"refs/heads/{name}", page, path)


@repository_router.get(
    "/{workspace}/{repo_slug}/commits/tag/{name:path}", response_class=HTMLResponse
)
def tag_commits_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    name: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    if svc.git(ctx.repo).tag(name) is None:
        raise NotFound(f"tag {name!r} not found")
    return _commit_list(request, svc, ctx, repo, f"refs/tags/{name}", page, None)


@repository_router.get("/{workspace}/{repo_slug}/commits/{rev}", response_class=HTMLResponse)
def commit_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    rev: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
    path: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    git = svc.git(ctx.repo)
    if path is not None:
        # "History" links from the file view: commits touching a path from a revision.
        if git.resolve(rev) is None:
            raise NotFound(f"commit {rev!r} not found")
        return _commit_list(request, svc, ctx, repo, rev, page, path)
    try:
        commit = git.commit(rev)
    except RevisionNotFound as exc:
        raise NotFound(f"commit {rev!r} not found") from exc
    modules = page_modules(request)
    if modules is not None:
        urls = Urls(settings.base_url)
        modules.add_object("commit", lambda: commit_read(ctx, commit, urls).model_dump(mode="json"))
    old, new = diff_revisions(git, commit.hash)
    files = parse_unified_diff(git.diff(old, new), max_lines=MAX_DIFF_LINES)
    shown = sum(len(h.lines) for f in files for h in f.hunks)
    rows, _total = svc.store.statuses(ctx.repo.id, [commit.hash], 0, 100)
    statuses = [
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
    names = _usernames(svc, [commit])
    return _page(
        request,
        "repo/commit.html",
        repo,
        "commits",
        {
            "commit": commit_view(commit, names),
            "files": files,
            "statuses": statuses,
            "truncated": shown >= MAX_DIFF_LINES,
            "added": sum(f.added for f in files),
            "removed": sum(f.removed for f in files),
            "message_html": Markup(render_markdown(commit.message)),  # noqa: S704 - rendered by markdown-it (no raw HTML) or Jinja (autoescaped)
        },
    )


@repository_router.get("/{workspace}/{repo_slug}/branches", response_class=HTMLResponse)
def branches_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    git = svc.git(ctx.repo)
    main = ctx.repo.mainbranch
    branches = sorted(git.branches(), key=lambda r: (r.name != main, r.name))
    views = []
    main_hash = git.resolve(f"refs/heads/{main}") if main else None
    for b in branches[:200]:
        v = ref_view(b, main)
        if main_hash and b.name != main and b.commit is not None:
            counts = git.text(
                "rev-list", "--left-right", "--count", f"{main_hash}...{b.commit.hash}"
            ).split()
            if len(counts) == 2:
                v.behind, v.ahead = int(counts[0]), int(counts[1])
        views.append(v)
    tags = [ref_view(t, None) for t in sorted(git.tags(), key=lambda r: r.name, reverse=True)]
    modules = page_modules(request)
    if modules is not None:
        urls = Urls(settings.base_url)
        modules.add_rows(
            "branch",
            {
                b.name: (lambda b=b: branch_read(ctx, b, urls).model_dump(mode="json"))
                for b in branches[:200]
                if b.commit is not None
            },
        )
    return _page(
        request,
        "repo/branches.html",
        repo,
        "branches",
        {
            "branches": views,
            "tags": tags[:100],
        },
    )


@repository_router.post("/{workspace}/{repo_slug}/branches/delete")
def delete_branch_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    name: Annotated[str, Form()] = "",
) -> Response:
    svc, ctx, repo, subject = _load(request, db, settings, viewer, workspace, repo_slug)
    try:
        with db.begin_nested():
            svc.delete_branch(subject, ctx, name)
        flash(request, f"Branch {name} deleted.")
    except AppdockError as exc:
        flash(request, exc.message, "error")
    return redirect(request, f"{repo.html_url}/branches")


# ---- settings --------------------------------------------------------------------------------
@repository_router.get("/{workspace}/{repo_slug}/admin", response_class=HTMLResponse)
def settings_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    if not repo.can_admin:
        raise NotFound(f"repository {workspace}/{repo_slug} has no settings you can change")
    return _page(
        request,
        "repo/admin.html",
        repo,
        "settings",
        {
            "projects": _projects(svc, workspace),
            "project": ctx.project.key if ctx.project else "",
            "error": None,
        },
    )


@repository_router.post("/{workspace}/{repo_slug}/admin", response_class=HTMLResponse)
def settings_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    name: Annotated[str, Form()] = "",
    slug: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    visibility: Annotated[str, Form()] = "private",
    fork_policy: Annotated[str, Form()] = "allow_forks",
) -> Response:
    svc, ctx, repo, subject = _load(
        request, db, settings, viewer, workspace, repo_slug, Permission.ADMIN
    )
    if fork_policy not in ("allow_forks", "no_public_forks", "no_forks"):
        fork_policy = ctx.repo.fork_policy
    try:
        with db.begin_nested():
            new = svc.update(
                subject,
                ctx,
                name=name,
                slug=slug.strip() or None,
                description=description,
                website=website.strip(),
                language=language.strip(),
                is_private=visibility != "public",
                project_key=project or None,
                fork_policy=fork_policy,
            )
    except AppdockError as exc:
        return _page(
            request,
            "repo/admin.html",
            repo,
            "settings",
            {
                "projects": _projects(svc, workspace),
                "project": ctx.project.key if ctx.project else "",
                "error": exc.message,
            },
            status_code=400,
        )
    flash(request, "Repository settings saved.")
    return redirect(request, f"/{new.workspace.slug}/{new.repo.slug}/admin")


@repository_router.post("/{workspace}/{repo_slug}/admin/delete")
def delete_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    svc, ctx, repo, subject = _load(
        request, db, settings, viewer, workspace, repo_slug, Permission.ADMIN
    )
    if confirm.strip() != repo.full_name:
        flash(request, f"Type {repo.full_name} to confirm the deletion.", "error")
        return redirect(request, f"{repo.html_url}/admin")
    svc.delete(subject, ctx)
    flash(request, f"Repository {repo.full_name} deleted.")
    return redirect(request, f"/{repo.workspace}")


# ---- fork ------------------------------------------------------------------------------------
@repository_router.get("/{workspace}/{repo_slug}/fork", response_class=HTMLResponse)
def fork_form(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    svc, _ctx, repo, _ = _load(request, db, settings, viewer, workspace, repo_slug)
    return _page(
        request,
        "repo/fork.html",
        repo,
        "overview",
        {
            "workspaces": _creatable_workspaces(svc, viewer),
            "form": {"workspace": viewer.username, "slug": repo.slug, "name": repo.name},
            "error": None,
        },
    )


@repository_router.post("/{workspace}/{repo_slug}/fork", response_class=HTMLResponse)
def fork_submit(
    request: Request,
    workspace: str,
    repo_slug: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
    target: Annotated[str, Form()] = "",
    slug: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    svc, ctx, repo, subject = _load(request, db, settings, viewer, workspace, repo_slug)
    try:
        with db.begin_nested():
            fork = svc.fork(
                subject,
                ctx,
                workspace=svc.workspace(target),
                slug=slug.strip() or None,
                name=name.strip() or None,
            )
    except AppdockError as exc:
        return _page(
            request,
            "repo/fork.html",
            repo,
            "overview",
            {
                "workspaces": _creatable_workspaces(svc, viewer),
                "form": {"workspace": target, "slug": slug, "name": name},
                "error": exc.message,
            },
            status_code=400,
        )
    flash(request, f"Forked {repo.full_name} to {fork.full_name}.")
    return redirect(request, f"/{fork.workspace.slug}/{fork.repo.slug}")


# ---- avatar ----------------------------------------------------------------------------------
_COLOURS = ["#0052cc", "#00875a", "#5243aa", "#de350b", "#ff8b00", "#00a3bf", "#6554c0"]


@repository_router.get("/{workspace}/{repo_slug}/avatar")
def repository_avatar(workspace: str, repo_slug: str) -> Response:
    """A generated square avatar (no lookup: it reveals nothing about the repository)."""
    from markupsafe import escape

    letter = escape((repo_slug[:1] or "?").upper())
    colour = _COLOURS[sum(map(ord, f"{workspace}/{repo_slug}")) % len(_COLOURS)]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="10" fill="{colour}"/>'
        '<path d="M18 22h28v4H18zM18 30h28v4H18zM18 38h18v4H18z" fill="#fff" opacity=".35"/>'
        '<text x="32" y="43" font-family="Helvetica,Arial,sans-serif" font-size="28" '
        f'font-weight="700" fill="#fff" text-anchor="middle">{letter}</text></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
