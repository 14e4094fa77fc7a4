"""REST 2.0: pull requests, their commits, diffs, comments, tasks, reviews, merge and decline.

Scopes as Bitbucket documents them: ``pullrequest`` to read and to comment, ``pullrequest:write``
to open, edit, review, merge and decline. The service then applies the repository permission
(hidden → 404, too weak → 403).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from appdock.api.pagination import PageDep, Paginated
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.core.errors import BadRequest
from appdock.core.scopes import Scope
from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.git import PathNotFound, normalize_path
from appdock.pullrequest import schemas
from appdock.pullrequest.context import PullRequestContext
from appdock.pullrequest.schemas import (
    CommentCreate,
    CommentRead,
    CommentUpdate,
    MergeBody,
    ParticipantRead,
    PullRequestCreate,
    PullRequestRead,
    PullRequestUpdate,
    TaskCreate,
    TaskRead,
    TaskUpdate,
)
from appdock.pullrequest.service import PullRequestService
from appdock.repo import schemas as repo_schemas
from appdock.repo.schemas import CommitRead, CommitStatusRead, DiffstatRead

router = APIRouter(tags=["pullrequests"])

PrRead = Annotated[Grant[Any], Depends(authorize(Scope.PULLREQUEST))]
PrComment = Annotated[Grant[Any], Depends(authorize(Scope.PULLREQUEST, authenticated=True))]
PrWrite = Annotated[Grant[Any], Depends(authorize(Scope.PULLREQUEST_WRITE, authenticated=True))]
CreateGrant = Annotated[
    Grant[PullRequestCreate],
    Depends(authorize(Scope.PULLREQUEST_WRITE, PullRequestCreate, authenticated=True)),
]
UpdateGrant = Annotated[
    Grant[PullRequestUpdate],
    Depends(authorize(Scope.PULLREQUEST_WRITE, PullRequestUpdate, authenticated=True)),
]
CommentGrant = Annotated[
    Grant[CommentCreate],
    Depends(authorize(Scope.PULLREQUEST, CommentCreate, authenticated=True)),
]
CommentEditGrant = Annotated[
    Grant[CommentUpdate],
    Depends(authorize(Scope.PULLREQUEST, CommentUpdate, authenticated=True)),
]
TaskGrant = Annotated[
    Grant[TaskCreate], Depends(authorize(Scope.PULLREQUEST, TaskCreate, authenticated=True))
]
TaskEditGrant = Annotated[
    Grant[TaskUpdate], Depends(authorize(Scope.PULLREQUEST, TaskUpdate, authenticated=True))
]

PREFIX = "/repositories/{workspace}/{repo_slug}/pullrequests"
ONE = PREFIX + "/{pull_request_id}"


def _svc(db: DbDep, settings: SettingsDep) -> PullRequestService:
    return PullRequestService(db, settings)


Svc = Annotated[PullRequestService, Depends(_svc)]


def _load(
    svc: PullRequestService,
    grant: Grant[Any],
    workspace: str,
    repo_slug: str,
    number: int,
    scope: Scope = Scope.PULLREQUEST,
) -> PullRequestContext:
    dest = svc.repository(workspace, repo_slug, grant.subject, scope=scope)
    return svc.get(dest, number)


async def _optional_body(request: Request, model: type[BaseModel]) -> Any:
    """Bodies some clients send and others omit (merge, decline): empty is all defaults."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
        return model.model_validate(data if isinstance(data, dict) else {})
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body: not valid JSON ({exc.msg})", field="body") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise BadRequest(f"{where}: {first.get('msg', 'invalid')}", field=where) from exc


# ---- pull requests ---------------------------------------------------------------------------
@router.get(PREFIX, response_model=Paginated[PullRequestRead], summary="Pull requests")
def list_pullrequests(
    workspace: str,
    repo_slug: str,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    state: Annotated[list[str], Query()] = [],  # noqa: B006
    q: str | None = None,
    sort: str | None = None,
) -> Paginated[PullRequestRead]:
    dest = svc.repository(workspace, repo_slug, grant.subject)
    rows, total = svc.search(
        dest, states=state, q=q, sort=sort, offset=page.offset, limit=page.limit
    )
    return page.envelope([schemas.pullrequest_read(c, urls) for c in rows], total)


@router.post(PREFIX, response_model=PullRequestRead, status_code=201, summary="Open a pull request")
def create_pullrequest(
    workspace: str, repo_slug: str, grant: CreateGrant, svc: Svc, urls: UrlsDep
) -> Any:
    body = grant.body
    dest = svc.repository(workspace, repo_slug, grant.subject, scope=Scope.PULLREQUEST_WRITE)
    source_repo = None
    if body.source.repository is not None:
        source_repo = body.source.repository.full_name or body.source.repository.uuid
    ctx, created = svc.create(
        grant.subject,
        dest,
        title=body.title,
        source_branch=body.source.branch.name if body.source.branch else None,
        source_repository=source_repo,
        destination_branch=(
            body.destination.branch.name if body.destination and body.destination.branch else None
        ),
        description=body.description,
        close_source_branch=body.close_source_branch,
        reviewers=[r.reference for r in body.reviewers] if body.reviewers is not None else None,
    )
    read = schemas.pullrequest_read(ctx, urls)
    if created:
        return read
    # Bitbucket answers an open pull request with the same branches by updating it.
    return JSONResponse(read.model_dump(mode="json", by_alias=True), status_code=200)


@router.get(ONE, response_model=PullRequestRead, summary="A pull request")
def get_pullrequest(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrRead, svc: Svc, urls: UrlsDep
) -> PullRequestRead:
    return schemas.pullrequest_read(_load(svc, grant, workspace, repo_slug, pull_request_id), urls)


@router.put(ONE, response_model=PullRequestRead, summary="Update a pull request")
def update_pullrequest(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: UpdateGrant,
    svc: Svc,
    urls: UrlsDep,
) -> PullRequestRead:
    body = grant.body
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    ctx = svc.update(
        grant.subject,
        ctx,
        title=body.title,
        description=body.description,
        destination_branch=(
            body.destination.branch.name if body.destination and body.destination.branch else None
        ),
        close_source_branch=body.close_source_branch,
        reviewers=[r.reference for r in body.reviewers] if body.reviewers is not None else None,
    )
    return schemas.pullrequest_read(ctx, urls)


# ---- git views -------------------------------------------------------------------------------
@router.get(ONE + "/commits", response_model=Paginated[CommitRead], summary="Its commits")
def pullrequest_commits(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[CommitRead]:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    commits, total = svc.commits(ctx, offset=page.offset, limit=page.limit)
    users = svc.repos.store.users_by_emails(c.author.email for c in commits)
    repo = ctx.source or ctx.destination
    return page.envelope([repo_schemas.commit_read(repo, c, urls, users) for c in commits], total)


@router.get(ONE + "/diff", summary="Its unified diff")
def pullrequest_diff(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    context: Annotated[int, Query(ge=0, le=1000)] = 3,
    path: Annotated[list[str], Query()] = [],  # noqa: B006
    ignore_whitespace: bool = False,
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    old, new = svc.diff_revisions(ctx)
    try:
        paths = [normalize_path(p) for p in path]
    except PathNotFound as exc:
        raise BadRequest(f"path: {exc.message}", field="path") from exc
    stream = svc.git(ctx).stream_diff(
        old, new, context=context, paths=paths, ignore_whitespace=ignore_whitespace
    )
    return StreamingResponse(stream, media_type="text/plain; charset=utf-8")


@router.get(ONE + "/patch", summary="Its commits as a patch series")
def pullrequest_patch(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrRead, svc: Svc
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    old, new = svc.diff_revisions(ctx)
    stream = svc.git(ctx).stream("format-patch", "--stdout", f"{old}..{new}")
    return StreamingResponse(stream, media_type="text/plain; charset=utf-8")


@router.get(ONE + "/diffstat", response_model=Paginated[DiffstatRead], summary="Files it changes")
def pullrequest_diffstat(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[DiffstatRead]:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    old, new = svc.diff_revisions(ctx)
    changes = svc.diffstat(ctx)
    chunk = changes[page.offset : page.offset + page.limit]
    repo = ctx.destination
    return page.envelope(
        [repo_schemas.diffstat_read(repo, c, old, new, urls) for c in chunk], len(changes)
    )


@router.get(
    ONE + "/statuses",
    response_model=Paginated[CommitStatusRead],
    summary="Build statuses of its source commit",
)
def pullrequest_statuses(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[CommitStatusRead]:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    rows, total = svc.statuses(ctx, offset=page.offset, limit=page.limit)
    repos = {ctx.destination.repo.id: ctx.destination}
    if ctx.source is not None:
        repos[ctx.source.repo.id] = ctx.source
    return page.envelope(
        [repo_schemas.commit_status_read(repos[r.repository_id], r, urls) for r in rows], total
    )


@router.get(ONE + "/activity", summary="What happened on it")
def pullrequest_activity(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[dict[str, Any]]:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    items = list(reversed(svc.activity(ctx)))  # newest first, as Bitbucket lists it
    chunk = items[page.offset : page.offset + page.limit]
    return page.envelope([_activity_entry(ctx, item, urls) for item in chunk], len(items))


def _activity_entry(ctx: PullRequestContext, item: Any, urls: Urls) -> dict[str, Any]:
    when, kind, value = item
    summary = schemas.pullrequest_summary(ctx, urls).model_dump(mode="json")
    if kind == "comment":
        row, user, ws = value
        comment = schemas.comment_read(ctx, row, user, urls, ws)
        return {"comment": comment.model_dump(mode="json", by_alias=True), "pull_request": summary}
    if kind in ("approval", "changes_request"):
        entry = schemas.approval_read(value.user, when, urls)
        entry["pullrequest"] = summary
        return {kind: entry, "pull_request": summary}
    read = schemas.pullrequest_read(ctx, urls).model_dump(mode="json", by_alias=True)
    update = {
        "state": value,
        "title": read["title"],
        "description": read["description"],
        "reason": read["reason"] if value != "OPEN" else "",
        "author": read["author"] if value == "OPEN" else read["closed_by"],
        "date": isoformat(when),
        "source": read["source"],
        "destination": read["destination"],
    }
    return {"update": update, "pull_request": summary}


# ---- reviews ---------------------------------------------------------------------------------
@router.post(ONE + "/approve", response_model=ParticipantRead, summary="Approve")
def approve(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrWrite, svc: Svc, urls: UrlsDep
) -> ParticipantRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    ctx, row = svc.approve(grant.subject, ctx)
    return _participant(ctx, row.user_id, urls)


@router.delete(ONE + "/approve", status_code=204, summary="Withdraw an approval")
def unapprove(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrWrite, svc: Svc
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    svc.unapprove(grant.subject, ctx)
    return Response(status_code=204)


@router.post(ONE + "/request-changes", response_model=ParticipantRead, summary="Request changes")
def request_changes(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrWrite, svc: Svc, urls: UrlsDep
) -> ParticipantRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    ctx, row = svc.request_changes(grant.subject, ctx)
    return _participant(ctx, row.user_id, urls)


@router.delete(ONE + "/request-changes", status_code=204, summary="Withdraw a change request")
def remove_change_request(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrWrite, svc: Svc
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    svc.remove_change_request(grant.subject, ctx)
    return Response(status_code=204)


def _participant(ctx: PullRequestContext, user_id: int, urls: Urls) -> ParticipantRead:
    found = next(p for p in ctx.participants if p.user.id == user_id)
    return schemas.participant_read(found, urls)


# ---- merge and decline -----------------------------------------------------------------------
async def merge_body(request: Request) -> MergeBody:
    body: MergeBody = await _optional_body(request, MergeBody)
    return body


@router.post(ONE + "/merge", response_model=PullRequestRead, summary="Merge")
def merge(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrWrite,
    body: Annotated[MergeBody, Depends(merge_body)],
    svc: Svc,
    urls: UrlsDep,
) -> PullRequestRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    ctx = svc.merge(
        grant.subject,
        ctx,
        strategy=body.merge_strategy,
        message=body.message,
        close_source_branch=body.close_source_branch,
    )
    return schemas.pullrequest_read(ctx, urls)


@router.post(ONE + "/decline", response_model=PullRequestRead, summary="Decline")
def decline(
    workspace: str, repo_slug: str, pull_request_id: int, grant: PrWrite, svc: Svc, urls: UrlsDep
) -> PullRequestRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id, Scope.PULLREQUEST_WRITE)
    return schemas.pullrequest_read(svc.decline(grant.subject, ctx), urls)


# ---- comments --------------------------------------------------------------------------------
@router.get(ONE + "/comments", response_model=Paginated[CommentRead], summary="Comments")
def list_comments(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[CommentRead]:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    rows, total = svc.comments(ctx, offset=page.offset, limit=page.limit)
    return page.envelope([schemas.comment_read(ctx, r, u, urls, ws) for r, u, ws in rows], total)


@router.post(
    ONE + "/comments", response_model=CommentRead, status_code=201, summary="Add a comment"
)
def create_comment(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: CommentGrant,
    svc: Svc,
    urls: UrlsDep,
) -> CommentRead:
    body = grant.body
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    row = svc.add_comment(
        grant.subject,
        ctx,
        body.content.raw,
        inline_path=body.inline.path if body.inline else None,
        inline_from=body.inline.from_ if body.inline else None,
        inline_to=body.inline.to if body.inline else None,
        parent_id=body.parent.id if body.parent else None,
    )
    ctx = svc.reload(ctx)
    found, user, ws = svc.comment(ctx, row.id)
    return schemas.comment_read(ctx, found, user, urls, ws)


@router.get(ONE + "/comments/{comment_id}", response_model=CommentRead, summary="A comment")
def get_comment(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    comment_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
) -> CommentRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    row, user, ws = svc.comment(ctx, comment_id)
    return schemas.comment_read(ctx, row, user, urls, ws)


@router.put(ONE + "/comments/{comment_id}", response_model=CommentRead, summary="Edit a comment")
def update_comment(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    comment_id: int,
    grant: CommentEditGrant,
    svc: Svc,
    urls: UrlsDep,
) -> CommentRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    svc.edit_comment(grant.subject, ctx, comment_id, grant.body.content.raw)
    row, user, ws = svc.comment(ctx, comment_id)
    return schemas.comment_read(ctx, row, user, urls, ws)


@router.delete(ONE + "/comments/{comment_id}", status_code=204, summary="Delete a comment")
def delete_comment(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    comment_id: int,
    grant: PrComment,
    svc: Svc,
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    svc.delete_comment(grant.subject, ctx, comment_id)
    return Response(status_code=204)


# ---- tasks -----------------------------------------------------------------------------------
@router.get(ONE + "/tasks", response_model=Paginated[TaskRead], summary="Tasks")
def list_tasks(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[TaskRead]:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    rows, total, users = svc.tasks(ctx, offset=page.offset, limit=page.limit)
    return page.envelope([schemas.task_read(ctx, t, users, urls) for t in rows], total)


@router.post(ONE + "/tasks", response_model=TaskRead, status_code=201, summary="Add a task")
def create_task(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    grant: TaskGrant,
    svc: Svc,
    urls: UrlsDep,
) -> TaskRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    row = svc.add_task(grant.subject, ctx, grant.body.content.raw)
    users = svc.store.users_by_ids([row.creator_user_id])
    return schemas.task_read(svc.reload(ctx), row, users, urls)


@router.get(ONE + "/tasks/{task_id}", response_model=TaskRead, summary="A task")
def get_task(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    task_id: int,
    grant: PrRead,
    svc: Svc,
    urls: UrlsDep,
) -> TaskRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    row = svc.task(ctx, task_id)
    users = svc.store.users_by_ids([row.creator_user_id, row.resolved_by_user_id])
    return schemas.task_read(ctx, row, users, urls)


@router.put(ONE + "/tasks/{task_id}", response_model=TaskRead, summary="Change a task")
def update_task(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    task_id: int,
    grant: TaskEditGrant,
    svc: Svc,
    urls: UrlsDep,
) -> TaskRead:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    body = grant.body
    row = svc.update_task(
        grant.subject,
        ctx,
        task_id,
        raw=body.content.raw if body.content else None,
        state=body.state,
    )
    users = svc.store.users_by_ids([row.creator_user_id, row.resolved_by_user_id])
    return schemas.task_read(ctx, row, users, urls)


@router.delete(ONE + "/tasks/{task_id}", status_code=204, summary="Delete a task")
def delete_task(
    workspace: str,
    repo_slug: str,
    pull_request_id: int,
    task_id: int,
    grant: PrComment,
    svc: Svc,
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, pull_request_id)
    svc.delete_task(grant.subject, ctx, task_id)
    return Response(status_code=204)
