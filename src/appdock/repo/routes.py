"""REST 2.0: repositories, forks, refs, commits, source, diffs and build statuses.

Every route declares its scope with :func:`authorize`; the service then applies the repository
permission (hidden → 404, too weak → 403). Responses are Bitbucket-shaped schemas; raw file
contents and diffs are streamed from git, never loaded whole.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from appdock.api.pagination import PageDep, Paginated
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.core import bbql
from appdock.core.errors import BadRequest, NotFound
from appdock.core.scopes import Scope
from appdock.core.urls import Urls
from appdock.git import GitRepo, PathNotFound, RevisionNotFound, normalize_path
from appdock.repo import schemas
from appdock.repo.context import RepoContext
from appdock.repo.schemas import (
    BranchCreate,
    BranchRead,
    CommitRead,
    CommitStatusCreate,
    CommitStatusRead,
    CommitStatusUpdate,
    DiffstatRead,
    ForkCreate,
    RepositoryCreate,
    RepositoryRead,
    RepositoryUpdate,
    TagCreate,
    TagRead,
)
from appdock.repo.service import Permission, RepoService
from appdock.repo.source import (
    blob_media_type,
    diff_revisions,
    resolve_ref_path,
    sniff_binary,
)

router = APIRouter(tags=["repositories"])

RepoRead = Annotated[Grant[Any], Depends(authorize(Scope.REPOSITORY))]
RepoWrite = Annotated[Grant[Any], Depends(authorize(Scope.REPOSITORY_WRITE, authenticated=True))]
RepoDelete = Annotated[Grant[Any], Depends(authorize(Scope.REPOSITORY_DELETE, authenticated=True))]
CreateGrant = Annotated[
    Grant[RepositoryCreate],
    Depends(authorize(Scope.REPOSITORY_ADMIN, RepositoryCreate, authenticated=True)),
]
UpdateGrant = Annotated[
    Grant[RepositoryUpdate],
    Depends(authorize(Scope.REPOSITORY_ADMIN, RepositoryUpdate, authenticated=True)),
]
BranchGrant = Annotated[
    Grant[BranchCreate],
    Depends(authorize(Scope.REPOSITORY_WRITE, BranchCreate, authenticated=True)),
]
TagGrant = Annotated[
    Grant[TagCreate], Depends(authorize(Scope.REPOSITORY_WRITE, TagCreate, authenticated=True))
]
StatusCreateGrant = Annotated[
    Grant[CommitStatusCreate],
    Depends(authorize(Scope.REPOSITORY, CommitStatusCreate, authenticated=True)),
]
StatusUpdateGrant = Annotated[
    Grant[CommitStatusUpdate],
    Depends(authorize(Scope.REPOSITORY, CommitStatusUpdate, authenticated=True)),
]

PREFIX = "/repositories/{workspace}/{repo_slug}"


def _svc(db: DbDep, settings: SettingsDep) -> RepoService:
    return RepoService(db, settings)


Svc = Annotated[RepoService, Depends(_svc)]


# ---- repositories ----------------------------------------------------------------------------
@router.get("/repositories", response_model=Paginated[RepositoryRead], summary="Repositories")
def list_public_repositories(
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    role: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    after: str | None = None,
) -> Paginated[RepositoryRead]:
    rows, total = svc.list_repositories(
        grant.subject,
        offset=page.offset,
        limit=page.limit,
        role=role,
        q=q,
        sort=sort,
        after=after,
    )
    return page.envelope([schemas.repository_read(c, urls) for c in rows], total)


@router.get(
    "/repositories/{workspace}",
    response_model=Paginated[RepositoryRead],
    summary="Repositories of a workspace",
)
def list_workspace_repositories(
    workspace: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    role: str | None = None,
    q: str | None = None,
    sort: str | None = None,
) -> Paginated[RepositoryRead]:
    ws = svc.workspace_listing(workspace, grant.subject)
    rows, total = svc.list_repositories(
        grant.subject,
        offset=page.offset,
        limit=page.limit,
        workspace=ws,
        role=role,
        q=q,
        sort=sort,
    )
    return page.envelope([schemas.repository_read(c, urls) for c in rows], total)


@router.get(PREFIX, response_model=RepositoryRead, summary="A repository")
def get_repository(
    workspace: str, repo_slug: str, grant: RepoRead, svc: Svc, urls: UrlsDep
) -> RepositoryRead:
    return schemas.repository_read(svc.get(workspace, repo_slug, grant.subject), urls)


def _create(
    svc: RepoService, grant: Grant[Any], workspace: str, slug: str, body: RepositoryCreate
) -> RepoContext:
    ws = svc.workspace(workspace)
    return svc.create(
        grant.subject,
        ws,
        slug,
        name=body.name,
        description=body.description,
        is_private=body.is_private,
        project_key=body.project.key if body.project else None,
        fork_policy=body.fork_policy,
        language=body.language,
        website=body.website,
        has_issues=body.has_issues,
        has_wiki=body.has_wiki,
    )


@router.post(PREFIX, response_model=RepositoryRead, status_code=201, summary="Create a repository")
def create_repository(
    workspace: str, repo_slug: str, grant: CreateGrant, svc: Svc, urls: UrlsDep
) -> RepositoryRead:
    return schemas.repository_read(_create(svc, grant, workspace, repo_slug, grant.body), urls)


@router.put(PREFIX, response_model=RepositoryRead, summary="Update (or create) a repository")
def update_repository(
    workspace: str, repo_slug: str, grant: UpdateGrant, svc: Svc, urls: UrlsDep
) -> Response | RepositoryRead:
    body = grant.body
    ws = svc.store.workspace(workspace)
    if ws is not None and svc.store.by_slug(ws.id, repo_slug) is None:
        # Bitbucket's PUT creates a repository that does not exist yet.
        create = RepositoryCreate.model_validate(
            body.model_dump(exclude_none=True, exclude={"slug"})
        )
        ctx = _create(svc, grant, workspace, repo_slug, create)
        data = schemas.repository_read(ctx, urls).model_dump(mode="json")
        return Response(json.dumps(data), status_code=201, media_type="application/json")
    ctx = svc.get(workspace, repo_slug, grant.subject, Permission.ADMIN)
    ctx = svc.update(
        grant.subject,
        ctx,
        name=body.name,
        slug=body.slug,
        description=body.description,
        is_private=body.is_private,
        project_key=body.project.key if body.project else None,
        fork_policy=body.fork_policy,
        language=body.language,
        website=body.website,
        has_issues=body.has_issues,
        has_wiki=body.has_wiki,
    )
    return schemas.repository_read(ctx, urls)


@router.delete(PREFIX, status_code=204, summary="Delete a repository")
def delete_repository(workspace: str, repo_slug: str, grant: RepoDelete, svc: Svc) -> Response:
    ctx = svc.get(
        workspace, repo_slug, grant.subject, Permission.ADMIN, scope=Scope.REPOSITORY_DELETE
    )
    svc.delete(grant.subject, ctx)
    return Response(status_code=204)


# ---- forks -----------------------------------------------------------------------------------
@router.get(PREFIX + "/forks", response_model=Paginated[RepositoryRead], summary="Forks")
def list_forks(
    workspace: str, repo_slug: str, grant: RepoRead, svc: Svc, urls: UrlsDep, page: PageDep
) -> Paginated[RepositoryRead]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    rows, total = svc.list_repositories(
        grant.subject, offset=page.offset, limit=page.limit, fork_of=ctx.repo
    )
    return page.envelope([schemas.repository_read(c, urls) for c in rows], total)


@router.post(
    PREFIX + "/forks", response_model=RepositoryRead, status_code=201, summary="Fork a repository"
)
async def fork_repository(
    workspace: str, repo_slug: str, request: Request, grant: RepoWrite, svc: Svc, urls: UrlsDep
) -> RepositoryRead:
    raw = await request.body()
    try:
        body = ForkCreate.model_validate_json(raw) if raw.strip() else ForkCreate()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise BadRequest(f"{where}: {first.get('msg', 'invalid')}", field=where) from exc
    result: RepositoryRead = await _run_sync(
        lambda: schemas.repository_read(_fork(svc, grant, workspace, repo_slug, body), urls)
    )
    return result


def _fork(
    svc: RepoService, grant: Grant[Any], workspace: str, repo_slug: str, body: ForkCreate
) -> RepoContext:
    source = svc.get(
        workspace, repo_slug, grant.subject, Permission.READ, scope=Scope.REPOSITORY_WRITE
    )
    target = None
    if body.workspace is not None and (body.workspace.slug or body.workspace.uuid):
        target = svc.workspace(body.workspace.slug or body.workspace.uuid or "")
    return svc.fork(
        grant.subject,
        source,
        workspace=target,
        slug=body.slug,
        name=body.name,
        is_private=body.is_private,
        description=body.description,
        project_key=body.project.key if body.project else None,
        fork_policy=body.fork_policy,
    )


async def _run_sync(fn: Any) -> Any:
    return await run_in_threadpool(fn)


# ---- refs ------------------------------------------------------------------------------------
def _users(svc: RepoService, emails: list[str]) -> dict[str, Any]:
    return svc.store.users_by_emails(emails)


def _filter_refs(refs: list[Any], q: str | None, sort: str | None) -> list[Any]:
    if q:
        node = bbql.parse(q)

        def name_cmp(op: str, value: bbql.Value) -> Any:
            text = str(value)
            tests = {
                "=": lambda n: n == text,
                "!=": lambda n: n != text,
                "~": lambda n: text.lower() in n.lower(),
                "!~": lambda n: text.lower() not in n.lower(),
            }
            if op not in tests:
                raise BadRequest(f"q: operator {op!r} is not supported for 'name'", field="q")
            return tests[op]

        predicate = bbql.to_sql(
            node,
            {"name": name_cmp},
            lambda *fs: lambda n: all(f(n) for f in fs),
            lambda *fs: lambda n: any(f(n) for f in fs),
        )
        refs = [r for r in refs if predicate(r.name)]
    key = (sort or "name").lstrip("-")
    if key not in ("name", "target.date"):
        raise BadRequest("sort: use name or target.date (prefix - to reverse)", field="sort")
    if key == "name":
        refs = sorted(refs, key=lambda r: r.name)
    else:
        refs = sorted(refs, key=lambda r: r.commit.committer.date if r.commit else 0)
    if sort and sort.startswith("-"):
        refs.reverse()
    return refs


def _ref_page(
    svc: RepoService, ctx: RepoContext, refs: list[Any], page: Any, urls: Urls
) -> Paginated[Any]:
    chunk = refs[page.offset : page.offset + page.limit]
    users = _users(svc, [r.commit.author.email for r in chunk if r.commit])
    values = [
        schemas.branch_read(ctx, r, urls, users)
        if r.kind == "branch"
        else schemas.tag_read(ctx, r, urls, users)
        for r in chunk
        if r.commit is not None
    ]
    return page.envelope(values, len(refs))  # type: ignore[no-any-return]


@router.get(PREFIX + "/refs", response_model=Paginated[BranchRead | TagRead], summary="Refs")
def list_refs(
    workspace: str,
    repo_slug: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    q: str | None = None,
    sort: str | None = None,
) -> Paginated[Any]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    git = svc.git(ctx.repo)
    return _ref_page(svc, ctx, _filter_refs(git.branches() + git.tags(), q, sort), page, urls)


@router.get(PREFIX + "/refs/branches", response_model=Paginated[BranchRead], summary="Branches")
def list_branches(
    workspace: str,
    repo_slug: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    q: str | None = None,
    sort: str | None = None,
) -> Paginated[Any]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return _ref_page(svc, ctx, _filter_refs(svc.git(ctx.repo).branches(), q, sort), page, urls)


@router.post(
    PREFIX + "/refs/branches",
    response_model=BranchRead,
    status_code=201,
    summary="Create a branch",
)
def create_branch(
    workspace: str, repo_slug: str, grant: BranchGrant, svc: Svc, urls: UrlsDep
) -> BranchRead:
    ctx = svc.get(workspace, repo_slug, grant.subject, Permission.WRITE)
    ref = svc.create_branch(grant.subject, ctx, grant.body.name, grant.body.target.hash)
    assert ref.commit is not None
    return schemas.branch_read(ctx, ref, urls, _users(svc, [ref.commit.author.email]))


@router.get(PREFIX + "/refs/branches/{name:path}", response_model=BranchRead, summary="A branch")
def get_branch(
    workspace: str, repo_slug: str, name: str, grant: RepoRead, svc: Svc, urls: UrlsDep
) -> BranchRead:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    ref = svc.git(ctx.repo).branch(name)
    if ref is None or ref.commit is None:
        raise NotFound(f"branch {name!r} not found")
    return schemas.branch_read(ctx, ref, urls, _users(svc, [ref.commit.author.email]))


@router.delete(PREFIX + "/refs/branches/{name:path}", status_code=204, summary="Delete a branch")
def delete_branch(
    workspace: str, repo_slug: str, name: str, grant: RepoWrite, svc: Svc
) -> Response:
    ctx = svc.get(workspace, repo_slug, grant.subject, Permission.WRITE)
    svc.delete_branch(grant.subject, ctx, name)
    return Response(status_code=204)


@router.get(PREFIX + "/refs/tags", response_model=Paginated[TagRead], summary="Tags")
def list_tags(
    workspace: str,
    repo_slug: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    q: str | None = None,
    sort: str | None = None,
) -> Paginated[Any]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return _ref_page(svc, ctx, _filter_refs(svc.git(ctx.repo).tags(), q, sort), page, urls)


@router.post(PREFIX + "/refs/tags", response_model=TagRead, status_code=201, summary="Create a tag")
def create_tag(workspace: str, repo_slug: str, grant: TagGrant, svc: Svc, urls: UrlsDep) -> TagRead:
    ctx = svc.get(workspace, repo_slug, grant.subject, Permission.WRITE)
    body = grant.body
    ref = svc.create_tag(grant.subject, ctx, body.name, body.target.hash, body.message)
    assert ref.commit is not None
    return schemas.tag_read(ctx, ref, urls, _users(svc, [ref.commit.author.email]))


@router.get(PREFIX + "/refs/tags/{name:path}", response_model=TagRead, summary="A tag")
def get_tag(
    workspace: str, repo_slug: str, name: str, grant: RepoRead, svc: Svc, urls: UrlsDep
) -> TagRead:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    ref = svc.git(ctx.repo).tag(name)
    if ref is None or ref.commit is None:
        raise NotFound(f"tag {name!r} not found")
    return schemas.tag_read(ctx, ref, urls, _users(svc, [ref.commit.author.email]))


@router.delete(PREFIX + "/refs/tags/{name:path}", status_code=204, summary="Delete a tag")
def delete_tag(workspace: str, repo_slug: str, name: str, grant: RepoWrite, svc: Svc) -> Response:
    ctx = svc.get(workspace, repo_slug, grant.subject, Permission.WRITE)
    svc.delete_tag(grant.subject, ctx, name)
    return Response(status_code=204)


# ---- commits ---------------------------------------------------------------------------------
def _commit_page(
    svc: RepoService,
    ctx: RepoContext,
    page: Any,
    urls: Urls,
    include: list[str],
    exclude: list[str],
    path: list[str],
) -> Paginated[CommitRead]:
    git = svc.git(ctx.repo)
    try:
        commits = git.log(
            include, exclude, skip=page.offset, limit=page.limit, paths=path, all_refs=True
        )
        total = git.count(include, exclude, paths=path, all_refs=True)
    except RevisionNotFound as exc:
        raise NotFound(exc.message) from exc
    except PathNotFound as exc:
        raise BadRequest(f"path: {exc.message}", field="path") from exc
    users = _users(svc, [c.author.email for c in commits])
    return page.envelope(  # type: ignore[no-any-return]
        [schemas.commit_read(ctx, c, urls, users) for c in commits], total
    )


@router.get(PREFIX + "/commits", response_model=Paginated[CommitRead], summary="Commits")
def list_commits(
    workspace: str,
    repo_slug: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    include: Annotated[list[str], Query()] = [],  # noqa: B006
    exclude: Annotated[list[str], Query()] = [],  # noqa: B006
    path: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Paginated[CommitRead]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return _commit_page(svc, ctx, page, urls, include, exclude, path)


@router.get(
    PREFIX + "/commits/{revision:path}",
    response_model=Paginated[CommitRead],
    summary="Commits reachable from a revision",
)
def list_commits_of(
    workspace: str,
    repo_slug: str,
    revision: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    include: Annotated[list[str], Query()] = [],  # noqa: B006
    exclude: Annotated[list[str], Query()] = [],  # noqa: B006
    path: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Paginated[CommitRead]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return _commit_page(svc, ctx, page, urls, [revision, *include], exclude, path)


@router.get(PREFIX + "/commit/{commit}", response_model=CommitRead, summary="A commit")
def get_commit(
    workspace: str, repo_slug: str, commit: str, grant: RepoRead, svc: Svc, urls: UrlsDep
) -> CommitRead:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    try:
        found = svc.git(ctx.repo).commit(commit)
    except RevisionNotFound as exc:
        raise NotFound(f"commit {commit!r} not found") from exc
    return schemas.commit_read(ctx, found, urls, _users(svc, [found.author.email]))


# ---- build statuses --------------------------------------------------------------------------
@router.get(
    PREFIX + "/commit/{commit}/statuses",
    response_model=Paginated[CommitStatusRead],
    summary="Statuses of a commit",
)
def list_statuses(
    workspace: str,
    repo_slug: str,
    commit: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[CommitStatusRead]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    rows, total = svc.statuses(ctx, commit, page.offset, page.limit)
    return page.envelope([schemas.commit_status_read(ctx, r, urls) for r in rows], total)


@router.post(
    PREFIX + "/commit/{commit}/statuses/build",
    response_model=CommitStatusRead,
    status_code=201,
    summary="Report a build status",
)
def create_build_status(
    workspace: str,
    repo_slug: str,
    commit: str,
    grant: StatusCreateGrant,
    svc: Svc,
    urls: UrlsDep,
) -> CommitStatusRead:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    body = grant.body
    row, _created = svc.set_status(
        grant.subject,
        ctx,
        commit,
        key=body.key,
        state=body.state,
        url=body.url,
        name=body.name,
        description=body.description,
        refname=body.refname,
    )
    return schemas.commit_status_read(ctx, row, urls)


@router.get(
    PREFIX + "/commit/{commit}/statuses/build/{key}",
    response_model=CommitStatusRead,
    summary="A build status",
)
def get_build_status(
    workspace: str,
    repo_slug: str,
    commit: str,
    key: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
) -> CommitStatusRead:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return schemas.commit_status_read(ctx, svc.get_status(ctx, commit, key), urls)


@router.put(
    PREFIX + "/commit/{commit}/statuses/build/{key}",
    response_model=CommitStatusRead,
    summary="Update a build status",
)
def update_build_status(
    workspace: str,
    repo_slug: str,
    commit: str,
    key: str,
    grant: StatusUpdateGrant,
    svc: Svc,
    urls: UrlsDep,
) -> CommitStatusRead:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    row = svc.update_status(grant.subject, ctx, commit, key, **grant.body.model_dump())
    return schemas.commit_status_read(ctx, row, urls)


# ---- source ----------------------------------------------------------------------------------
@router.get(PREFIX + "/src", summary="The main branch's root directory")
def src_root(
    workspace: str, repo_slug: str, request: Request, grant: RepoRead, svc: Svc, urls: UrlsDep
) -> Response:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    git = svc.git(ctx.repo)
    head = git.resolve(ctx.repo.mainbranch) if ctx.repo.mainbranch else None
    if head is None:
        raise NotFound(f"repository {ctx.full_name!r} is empty")
    target = schemas.RepoUrls(ctx, urls).api("src", head) + "/"
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(target, status_code=302)


def _src(
    svc: RepoService,
    ctx: RepoContext,
    urls: Urls,
    page: Any,
    segments: list[str],
    meta: bool,
) -> Any:
    git = svc.git(ctx.repo)
    resolved = resolve_ref_path(git, segments)
    if resolved is None:
        raise NotFound(f"revision {segments[0]!r} not found")
    commit, path = resolved
    try:
        entry = git.entry(commit, path)
    except PathNotFound as exc:
        raise NotFound(exc.message) from exc
    if entry is None:
        raise NotFound(f"path {path!r} not found at {commit[:12]}")
    if meta:
        return schemas.tree_entry_read(ctx, commit, entry, urls)
    if entry.is_dir:
        items = git.tree(commit, path)
        chunk = items[page.offset : page.offset + page.limit]
        return page.envelope(
            [schemas.tree_entry_read(ctx, commit, e, urls) for e in chunk], len(items)
        )
    return _raw_file(git, entry)


def _raw_file(git: GitRepo, entry: Any) -> Response:
    if entry.is_submodule:
        return Response(entry.oid + "\n", media_type="text/plain; charset=utf-8")
    head = git.read_blob(entry.oid, limit=8192)
    media_type = blob_media_type(entry.path, head, sniff_binary(head))
    headers = {
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Content-Disposition": "inline",
    }
    if entry.size is not None:
        headers["Content-Length"] = str(entry.size)
    return StreamingResponse(git.stream_blob(entry.oid), media_type=media_type, headers=headers)


@router.get(PREFIX + "/src/{commit}", summary="A directory listing at a commit")
def src_directory_root(
    workspace: str,
    repo_slug: str,
    commit: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    format: str | None = None,
) -> Any:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return _src(svc, ctx, urls, page, [commit], format == "meta")


@router.get(PREFIX + "/src/{commit}/{path:path}", summary="A file's contents or a directory")
def src_path(
    workspace: str,
    repo_slug: str,
    commit: str,
    path: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    format: str | None = None,
) -> Any:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    return _src(
        svc, ctx, urls, page, [commit, *[p for p in path.split("/") if p]], format == "meta"
    )


# ---- diffs -----------------------------------------------------------------------------------
@router.get(PREFIX + "/diff/{spec:path}", summary="A unified diff")
def get_diff(
    workspace: str,
    repo_slug: str,
    spec: str,
    grant: RepoRead,
    svc: Svc,
    context: Annotated[int, Query(ge=0, le=1000)] = 3,
    path: Annotated[list[str], Query()] = [],  # noqa: B006
    ignore_whitespace: bool = False,
    topic: bool = True,
) -> Response:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    git = svc.git(ctx.repo)
    old, new = diff_revisions(git, spec, topic=topic)
    try:
        paths = [normalize_path(p) for p in path]
    except PathNotFound as exc:
        raise BadRequest(f"path: {exc.message}", field="path") from exc
    stream = git.stream_diff(
        old, new, context=context, paths=paths, ignore_whitespace=ignore_whitespace
    )
    return StreamingResponse(stream, media_type="text/plain; charset=utf-8")


@router.get(PREFIX + "/patch/{spec:path}", summary="A patch series")
def get_patch(workspace: str, repo_slug: str, spec: str, grant: RepoRead, svc: Svc) -> Response:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    git = svc.git(ctx.repo)
    old, new = diff_revisions(git, spec, topic=True)
    rng = new if old == git.parent_or_empty(new) and ".." not in spec else f"{old}..{new}"
    args = (
        ["format-patch", "--stdout", "-1", rng] if rng == new else ["format-patch", "--stdout", rng]
    )
    return StreamingResponse(git.stream(*args), media_type="text/plain; charset=utf-8")


@router.get(
    PREFIX + "/diffstat/{spec:path}", response_model=Paginated[DiffstatRead], summary="A diffstat"
)
def get_diffstat(
    workspace: str,
    repo_slug: str,
    spec: str,
    grant: RepoRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    path: Annotated[list[str], Query()] = [],  # noqa: B006
    topic: bool = True,
) -> Paginated[DiffstatRead]:
    ctx = svc.get(workspace, repo_slug, grant.subject)
    git = svc.git(ctx.repo)
    old, new = diff_revisions(git, spec, topic=topic)
    try:
        changes = git.diffstat(old, new, paths=path)
    except PathNotFound as exc:
        raise BadRequest(f"path: {exc.message}", field="path") from exc
    chunk = changes[page.offset : page.offset + page.limit]
    return page.envelope(
        [schemas.diffstat_read(ctx, c, old, new, urls) for c in chunk], len(changes)
    )
