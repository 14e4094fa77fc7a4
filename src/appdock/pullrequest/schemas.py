"""Pull request objects in Bitbucket's REST 2.0 shapes (``pullrequest``, ``participant``,
``pullrequest_comment``, ``task``, activity entries) and the bodies the API accepts.

Builders take a :class:`PullRequestContext` (or a comment/task row plus it) and :class:`Urls`
and return pydantic models; routes return them, event payloads dump them. Every object carries
``type`` and absolute ``links``.

    >>> pullrequest_read(ctx, urls).model_dump(mode="json")["state"]
    'OPEN'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from appdock.account.schemas import TeamRead, UserRead, team_read, user_read
from appdock.core.markup import rendered
from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.models import PullRequestComment, PullRequestTask, User
from appdock.pullrequest.context import Participation, PullRequestContext
from appdock.repo.context import RepoContext
from appdock.repo.schemas import (
    MERGE_STRATEGIES,
    RepositorySummary,
    RepoUrls,
    repository_summary,
)

Links = dict[str, Any]
STATES = ("OPEN", "MERGED", "DECLINED", "SUPERSEDED")
Account = UserRead | TeamRead


class PullRequestUrls:
    """API and page URLs of one pull request."""

    def __init__(self, ctx: PullRequestContext, urls: Urls) -> None:
        self.repo = RepoUrls(ctx.destination, urls)
        self.number = str(ctx.pr.number)

    def api(self, *parts: str) -> str:
        return self.repo.api("pullrequests", self.number, *parts)

    def html(self, *parts: str) -> str:
        return self.repo.html("pull-requests", self.number, *parts)


# ---- pull request --------------------------------------------------------------------------
class RenderedText(BaseModel):
    type: Literal["rendered"] = "rendered"
    raw: str
    markup: str = "markdown"
    html: str


class EndpointBranch(BaseModel):
    name: str


class DestinationBranch(BaseModel):
    name: str
    merge_strategies: list[str]
    default_merge_strategy: str


class EndpointCommit(BaseModel):
    type: Literal["commit"] = "commit"
    hash: str
    links: Links


class EndpointRead(BaseModel):
    branch: EndpointBranch | DestinationBranch
    commit: EndpointCommit | None
    repository: RepositorySummary | None


class ParticipantRead(BaseModel):
    type: Literal["participant"] = "participant"
    user: UserRead
    role: Literal["PARTICIPANT", "REVIEWER"]
    approved: bool
    state: Literal["approved", "changes_requested"] | None
    participated_on: str | None


class PullRequestRead(BaseModel):
    type: Literal["pullrequest"] = "pullrequest"
    id: int
    title: str
    description: str
    rendered: dict[str, RenderedText]
    summary: RenderedText
    state: str
    author: Account | None
    source: EndpointRead
    destination: EndpointRead
    merge_commit: EndpointCommit | None
    comment_count: int
    task_count: int
    close_source_branch: bool
    closed_by: UserRead | None
    reason: str
    created_on: str | None
    updated_on: str | None
    reviewers: list[UserRead]
    participants: list[ParticipantRead]
    draft: bool = False
    queued: bool = False
    links: Links


def _text(raw: str) -> RenderedText:
    return RenderedText(**rendered(raw))


def _commit(ctx: RepoContext | None, commit_hash: str, urls: Urls) -> EndpointCommit:
    links: Links = {}
    if ctx is not None:
        r = RepoUrls(ctx, urls)
        links = {
            "self": urls.link(r.api("commit", commit_hash)),
            "html": urls.link(r.html("commits", commit_hash)),
        }
    return EndpointCommit(hash=commit_hash, links=links)


def account_read(user: User | None, workspace: Any, urls: Urls) -> Account | None:
    if user is not None:
        return user_read(user, urls)
    if workspace is not None:
        return team_read(workspace, urls)
    return None


def participant_read(p: Participation, urls: Urls) -> ParticipantRead:
    state = p.row.state if p.row.state in ("approved", "changes_requested") else None
    return ParticipantRead(
        user=user_read(p.user, urls),
        role="REVIEWER" if p.row.role == "REVIEWER" else "PARTICIPANT",
        approved=state == "approved",
        state=state,  # type: ignore[arg-type]
        participated_on=isoformat(p.row.participated_on),
    )


def pullrequest_links(ctx: PullRequestContext, urls: Urls) -> Links:
    u = PullRequestUrls(ctx, urls)
    link = urls.link
    return {
        "self": link(u.api()),
        "html": link(u.html()),
        "commits": link(u.api("commits")),
        "approve": link(u.api("approve")),
        "request-changes": link(u.api("request-changes")),
        "diff": link(u.api("diff")),
        "diffstat": link(u.api("diffstat")),
        "patch": link(u.api("patch")),
        "comments": link(u.api("comments")),
        "activity": link(u.api("activity")),
        "merge": link(u.api("merge")),
        "decline": link(u.api("decline")),
        "statuses": link(u.api("statuses")),
        "tasks": link(u.api("tasks")),
    }


def pullrequest_read(ctx: PullRequestContext, urls: Urls) -> PullRequestRead:
    pr = ctx.pr
    rendered_fields = {"title": _text(pr.title), "description": _text(pr.description)}
    if pr.reason:
        rendered_fields["reason"] = _text(pr.reason)
    return PullRequestRead(
        id=pr.number,
        title=pr.title,
        description=pr.description,
        rendered=rendered_fields,
        summary=_text(pr.description),
        state=pr.state,
        author=account_read(ctx.author, ctx.author_workspace, urls),
        source=EndpointRead(
            branch=EndpointBranch(name=pr.source_branch),
            commit=_commit(ctx.source, pr.source_commit, urls),
            repository=repository_summary(ctx.source, urls) if ctx.source else None,
        ),
        destination=EndpointRead(
            branch=DestinationBranch(
                name=pr.destination_branch,
                merge_strategies=list(MERGE_STRATEGIES),
                default_merge_strategy="merge_commit",
            ),
            commit=_commit(ctx.destination, pr.destination_commit, urls),
            repository=repository_summary(ctx.destination, urls),
        ),
        merge_commit=_commit(ctx.destination, pr.merge_commit, urls) if pr.merge_commit else None,
        comment_count=ctx.comment_count,
        task_count=ctx.task_count,
        close_source_branch=pr.close_source_branch,
        closed_by=user_read(ctx.closed_by, urls) if ctx.closed_by else None,
        reason=pr.reason,
        created_on=isoformat(pr.created_at),
        updated_on=isoformat(pr.updated_at),
        reviewers=[user_read(u, urls) for u in ctx.reviewers],
        participants=[participant_read(p, urls) for p in ctx.participants],
        links=pullrequest_links(ctx, urls),
    )


class PullRequestSummary(BaseModel):
    type: Literal["pullrequest"] = "pullrequest"
    id: int
    title: str
    links: Links


def pullrequest_summary(ctx: PullRequestContext, urls: Urls) -> PullRequestSummary:
    u = PullRequestUrls(ctx, urls)
    return PullRequestSummary(
        id=ctx.pr.number,
        title=ctx.pr.title,
        links={"self": urls.link(u.api()), "html": urls.link(u.html())},
    )


# ---- comments --------------------------------------------------------------------------------
class InlineRead(BaseModel):
    path: str
    # "from"/"to" are Python keywords as attribute names, so they travel under aliases.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    from_: int | None = Field(default=None, alias="from")
    to: int | None = None


class CommentParent(BaseModel):
    id: int
    links: Links


class CommentRead(BaseModel):
    type: Literal["pullrequest_comment"] = "pullrequest_comment"
    id: int
    created_on: str | None
    updated_on: str | None
    content: RenderedText
    user: Account | None
    deleted: bool
    pending: bool = False
    parent: CommentParent | None = None
    inline: InlineRead | None = None
    pullrequest: PullRequestSummary
    links: Links


def comment_url(ctx: PullRequestContext, comment_id: int, urls: Urls) -> str:
    return PullRequestUrls(ctx, urls).api("comments", str(comment_id))


def comment_read(
    ctx: PullRequestContext,
    comment: PullRequestComment,
    author: User | None,
    urls: Urls,
    author_workspace: Any = None,
) -> CommentRead:
    u = PullRequestUrls(ctx, urls)
    inline = None
    if comment.inline_path:
        inline = InlineRead(
            path=comment.inline_path, from_=comment.inline_from, to=comment.inline_to
        )
    links: Links = {
        "self": urls.link(comment_url(ctx, comment.id, urls)),
        "html": urls.link(u.html() + f"#comment-{comment.id}"),
    }
    if comment.inline_path:
        links["code"] = urls.link(u.api("diff") + "?" + urlencode({"path": comment.inline_path}))
    return CommentRead(
        id=comment.id,
        created_on=isoformat(comment.created_at),
        updated_on=isoformat(comment.updated_at),
        content=_text("" if comment.deleted else comment.content),
        user=account_read(author, author_workspace, urls),
        deleted=comment.deleted,
        parent=(
            CommentParent(
                id=comment.parent_id,
                links={"self": urls.link(comment_url(ctx, comment.parent_id, urls))},
            )
            if comment.parent_id
            else None
        ),
        inline=inline,
        pullrequest=pullrequest_summary(ctx, urls),
        links=links,
    )


# ---- tasks -----------------------------------------------------------------------------------
class TaskRead(BaseModel):
    type: Literal["task"] = "task"
    id: int
    state: Literal["RESOLVED", "UNRESOLVED"]
    content: RenderedText
    creator: UserRead | None
    created_on: str | None
    updated_on: str | None
    resolved_on: str | None
    resolved_by: UserRead | None
    pending: bool = False
    links: Links


def task_read(
    ctx: PullRequestContext, task: PullRequestTask, users: dict[int, User], urls: Urls
) -> TaskRead:
    creator = users.get(task.creator_user_id) if task.creator_user_id else None
    resolver = users.get(task.resolved_by_user_id) if task.resolved_by_user_id else None
    return TaskRead(
        id=task.id,
        state="RESOLVED" if task.state == "RESOLVED" else "UNRESOLVED",
        content=_text(task.content),
        creator=user_read(creator, urls) if creator else None,
        created_on=isoformat(task.created_at),
        updated_on=isoformat(task.updated_at),
        resolved_on=isoformat(task.resolved_at),
        resolved_by=user_read(resolver, urls) if resolver else None,
        links={
            "self": urls.link(PullRequestUrls(ctx, urls).api("tasks", str(task.id))),
            "html": urls.link(PullRequestUrls(ctx, urls).html() + f"#task-{task.id}"),
        },
    )


# ---- approvals and activity ------------------------------------------------------------------
def approval_read(user: User, when: datetime | None, urls: Urls) -> dict[str, Any]:
    """``{date, user}``: the ``approval`` / ``changes_request`` object of events and activity."""
    return {"date": isoformat(when), "user": user_read(user, urls).model_dump(mode="json")}


# ---- bodies ----------------------------------------------------------------------------------
class BranchName(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=255)


class RepositoryRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    full_name: str | None = None
    uuid: str | None = None


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    branch: BranchName | None = None
    repository: RepositoryRef | None = None


class AccountRef(BaseModel):
    """A user named by ``uuid``, ``account_id`` or ``username`` (Bitbucket accepts each)."""

    model_config = ConfigDict(extra="ignore")
    uuid: str | None = None
    account_id: str | None = None
    username: str | None = None

    @property
    def reference(self) -> str | None:
        return self.uuid or self.account_id or self.username


class PullRequestCreate(BaseModel):
    """``POST /repositories/{ws}/{slug}/pullrequests``."""

    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=128 * 1024)
    source: EndpointIn
    destination: EndpointIn | None = None
    close_source_branch: bool | None = None
    reviewers: list[AccountRef] | None = None


class PullRequestUpdate(BaseModel):
    """``PUT .../pullrequests/{id}``: only the fields given change."""

    model_config = ConfigDict(extra="ignore")
    title: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=128 * 1024)
    destination: EndpointIn | None = None
    close_source_branch: bool | None = None
    reviewers: list[AccountRef] | None = None


class MergeBody(BaseModel):
    """``POST .../merge``: every field optional (``merge_strategy`` null = the default)."""

    model_config = ConfigDict(extra="ignore")
    type: str | None = None
    message: str | None = Field(default=None, max_length=128 * 1024)
    close_source_branch: bool | None = None
    merge_strategy: str | None = None


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    raw: str = Field(max_length=64 * 1024)


class InlineIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    path: str = Field(min_length=1, max_length=1024)
    from_: int | None = Field(default=None, alias="from", ge=1)
    to: int | None = Field(default=None, ge=1)


class ParentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: ContentIn
    inline: InlineIn | None = None
    parent: ParentIn | None = None


class CommentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: ContentIn


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: ContentIn


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: ContentIn | None = None
    state: Literal["RESOLVED", "UNRESOLVED"] | None = None
