"""REST 2.0: the issue tracker (issues, comments, changes). Scopes ``issue`` / ``issue:write``
as Bitbucket documents them; the service applies the repository permission."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from appdock.api.pagination import PageDep, Paginated
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.core.scopes import Scope
from appdock.issue import schemas
from appdock.issue.context import IssueContext
from appdock.issue.schemas import (
    CommentIn,
    IssueChangeCreate,
    IssueChangeRead,
    IssueCommentRead,
    IssueCreate,
    IssueRead,
    IssueUpdate,
)
from appdock.issue.service import UNSET, IssueService

router = APIRouter(tags=["issues"])

IssueReadGrant = Annotated[Grant[Any], Depends(authorize(Scope.ISSUE))]
IssueWrite = Annotated[Grant[Any], Depends(authorize(Scope.ISSUE_WRITE, authenticated=True))]
CreateGrant = Annotated[
    Grant[IssueCreate], Depends(authorize(Scope.ISSUE_WRITE, IssueCreate, authenticated=True))
]
UpdateGrant = Annotated[
    Grant[IssueUpdate], Depends(authorize(Scope.ISSUE_WRITE, IssueUpdate, authenticated=True))
]
ChangeGrant = Annotated[
    Grant[IssueChangeCreate],
    Depends(authorize(Scope.ISSUE_WRITE, IssueChangeCreate, authenticated=True)),
]
CommentGrant = Annotated[
    Grant[CommentIn], Depends(authorize(Scope.ISSUE_WRITE, CommentIn, authenticated=True))
]

PREFIX = "/repositories/{workspace}/{repo_slug}/issues"
ONE = PREFIX + "/{issue_id}"


def _svc(db: DbDep, settings: SettingsDep) -> IssueService:
    return IssueService(db, settings)


Svc = Annotated[IssueService, Depends(_svc)]


def _load(
    svc: IssueService,
    grant: Grant[Any],
    workspace: str,
    repo_slug: str,
    number: int,
    scope: Scope = Scope.ISSUE,
) -> IssueContext:
    repo = svc.repository(workspace, repo_slug, grant.subject, scope=scope)
    return svc.get(repo, number)


@router.get(PREFIX, response_model=Paginated[IssueRead], summary="Issues")
def list_issues(
    workspace: str,
    repo_slug: str,
    grant: IssueReadGrant,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    q: str | None = None,
    sort: str | None = None,
    state: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Paginated[IssueRead]:
    repo = svc.repository(workspace, repo_slug, grant.subject)
    rows, total = svc.search(
        repo, q=q, sort=sort, states=state, offset=page.offset, limit=page.limit
    )
    return page.envelope([schemas.issue_read(c, urls) for c in rows], total)


@router.post(PREFIX, response_model=IssueRead, status_code=201, summary="File an issue")
def create_issue(
    workspace: str, repo_slug: str, grant: CreateGrant, svc: Svc, urls: UrlsDep
) -> IssueRead:
    body = grant.body
    repo = svc.repository(workspace, repo_slug, grant.subject, scope=Scope.ISSUE_WRITE)
    ctx = svc.create(
        grant.subject,
        repo,
        title=body.title,
        content=body.content.raw if body.content else "",
        kind=body.kind,
        priority=body.priority,
        state=body.state,
        assignee=body.assignee.reference if body.assignee else None,
    )
    return schemas.issue_read(ctx, urls)


@router.get(ONE, response_model=IssueRead, summary="An issue")
def get_issue(
    workspace: str, repo_slug: str, issue_id: int, grant: IssueReadGrant, svc: Svc, urls: UrlsDep
) -> IssueRead:
    return schemas.issue_read(_load(svc, grant, workspace, repo_slug, issue_id), urls)


@router.put(ONE, response_model=IssueRead, summary="Change an issue")
def update_issue(
    workspace: str, repo_slug: str, issue_id: int, grant: UpdateGrant, svc: Svc, urls: UrlsDep
) -> IssueRead:
    body = grant.body
    ctx = _load(svc, grant, workspace, repo_slug, issue_id, Scope.ISSUE_WRITE)
    assignee: Any = UNSET
    if "assignee" in body.model_fields_set:
        assignee = body.assignee.reference if body.assignee else None
    ctx, _ = svc.update(
        grant.subject,
        ctx,
        title=body.title,
        content=body.content.raw if body.content else None,
        kind=body.kind,
        priority=body.priority,
        state=body.state,
        assignee=assignee,
    )
    return schemas.issue_read(ctx, urls)


@router.delete(ONE, status_code=204, summary="Delete an issue")
def delete_issue(
    workspace: str, repo_slug: str, issue_id: int, grant: IssueWrite, svc: Svc
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id, Scope.ISSUE_WRITE)
    svc.delete(grant.subject, ctx)
    return Response(status_code=204)


# ---- changes ---------------------------------------------------------------------------------
@router.get(ONE + "/changes", response_model=Paginated[IssueChangeRead], summary="Its changes")
def list_changes(
    workspace: str,
    repo_slug: str,
    issue_id: int,
    grant: IssueReadGrant,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[IssueChangeRead]:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id)
    rows, total = svc.changes(ctx, offset=page.offset, limit=page.limit)
    return page.envelope([schemas.issue_change_read(ctx, c, u, m, urls) for c, u, m in rows], total)


@router.post(ONE + "/changes", response_model=IssueChangeRead, status_code=201, summary="Change it")
def create_change(
    workspace: str, repo_slug: str, issue_id: int, grant: ChangeGrant, svc: Svc, urls: UrlsDep
) -> Any:
    body = grant.body
    ctx = _load(svc, grant, workspace, repo_slug, issue_id, Scope.ISSUE_WRITE)
    fields = body.changes

    def new(value: schemas.ChangeValue | None) -> str | None:
        return value.new if value is not None else None

    assignee: Any = UNSET
    ref = fields.assignee_account_id or fields.assignee
    if ref is not None:
        assignee = ref.new or None
    ctx, change = svc.update(
        grant.subject,
        ctx,
        title=new(fields.title),
        content=new(fields.content),
        kind=new(fields.kind),
        priority=new(fields.priority),
        state=new(fields.state),
        assignee=assignee,
        message=body.message.raw if body.message else None,
    )
    if change is None:
        # Nothing changed and nothing said: there is no change record to return.
        return JSONResponse(
            json.loads(schemas.issue_read(ctx, urls).model_dump_json()), status_code=200
        )
    row, user, comment = svc.change(ctx, change.id)
    return schemas.issue_change_read(ctx, row, user, comment, urls)


@router.get(ONE + "/changes/{change_id}", response_model=IssueChangeRead, summary="A change")
def get_change(
    workspace: str,
    repo_slug: str,
    issue_id: int,
    change_id: int,
    grant: IssueReadGrant,
    svc: Svc,
    urls: UrlsDep,
) -> IssueChangeRead:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id)
    row, user, comment = svc.change(ctx, change_id)
    return schemas.issue_change_read(ctx, row, user, comment, urls)


# ---- comments --------------------------------------------------------------------------------
@router.get(ONE + "/comments", response_model=Paginated[IssueCommentRead], summary="Comments")
def list_comments(
    workspace: str,
    repo_slug: str,
    issue_id: int,
    grant: IssueReadGrant,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[IssueCommentRead]:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id)
    rows, total = svc.comments(ctx, offset=page.offset, limit=page.limit)
    return page.envelope([schemas.issue_comment_read(ctx, r, u, urls) for r, u in rows], total)


@router.post(ONE + "/comments", response_model=IssueCommentRead, status_code=201, summary="Comment")
def create_comment(
    workspace: str, repo_slug: str, issue_id: int, grant: CommentGrant, svc: Svc, urls: UrlsDep
) -> IssueCommentRead:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id, Scope.ISSUE_WRITE)
    row = svc.add_comment(grant.subject, ctx, grant.body.content.raw)
    ctx = svc.reload(ctx)
    found, user = svc.comment(ctx, row.id)
    return schemas.issue_comment_read(ctx, found, user, urls)


@router.get(ONE + "/comments/{comment_id}", response_model=IssueCommentRead, summary="A comment")
def get_comment(
    workspace: str,
    repo_slug: str,
    issue_id: int,
    comment_id: int,
    grant: IssueReadGrant,
    svc: Svc,
    urls: UrlsDep,
) -> IssueCommentRead:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id)
    row, user = svc.comment(ctx, comment_id)
    return schemas.issue_comment_read(ctx, row, user, urls)


@router.put(
    ONE + "/comments/{comment_id}", response_model=IssueCommentRead, summary="Edit a comment"
)
def update_comment(
    workspace: str,
    repo_slug: str,
    issue_id: int,
    comment_id: int,
    grant: CommentGrant,
    svc: Svc,
    urls: UrlsDep,
) -> IssueCommentRead:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id, Scope.ISSUE_WRITE)
    svc.edit_comment(grant.subject, ctx, comment_id, grant.body.content.raw)
    row, user = svc.comment(ctx, comment_id)
    return schemas.issue_comment_read(ctx, row, user, urls)


@router.delete(ONE + "/comments/{comment_id}", status_code=204, summary="Delete a comment")
def delete_comment(
    workspace: str,
    repo_slug: str,
    issue_id: int,
    comment_id: int,
    grant: IssueWrite,
    svc: Svc,
) -> Response:
    ctx = _load(svc, grant, workspace, repo_slug, issue_id, Scope.ISSUE_WRITE)
    svc.delete_comment(grant.subject, ctx, comment_id)
    return Response(status_code=204)
