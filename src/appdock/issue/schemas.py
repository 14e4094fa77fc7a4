"""Issue tracker objects in Bitbucket's REST 2.0 shapes (``issue``, ``issue_comment``,
``issue_change``) and the bodies the API accepts.

    >>> issue_read(ctx, urls).model_dump(mode="json")["kind"]
    'bug'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from appdock.account.schemas import UserRead, user_read
from appdock.core.markup import rendered
from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.issue.context import IssueContext
from appdock.models import IssueChange, IssueComment, User
from appdock.repo.schemas import RepositorySummary, RepoUrls, repository_summary

Links = dict[str, Any]
KINDS = ("bug", "enhancement", "proposal", "task")
PRIORITIES = ("trivial", "minor", "major", "critical", "blocker")
STATES = ("new", "open", "resolved", "on hold", "invalid", "duplicate", "wontfix", "closed")
# States in which an issue counts as open (the list page's default filter).
OPEN_STATES = ("new", "open", "on hold")

Kind = Literal["bug", "enhancement", "proposal", "task"]
Priority = Literal["trivial", "minor", "major", "critical", "blocker"]
State = Literal["new", "open", "resolved", "on hold", "invalid", "duplicate", "wontfix", "closed"]


class IssueUrls:
    def __init__(self, ctx: IssueContext, urls: Urls) -> None:
        self.repo = RepoUrls(ctx.repo, urls)
        self.number = str(ctx.issue.number)

    def api(self, *parts: str) -> str:
        return self.repo.api("issues", self.number, *parts)

    def html(self, *parts: str) -> str:
        return self.repo.html("issues", self.number, *parts)


class Content(BaseModel):
    type: Literal["rendered"] = "rendered"
    raw: str
    markup: str = "markdown"
    html: str


def content(raw: str) -> Content:
    return Content(**rendered(raw))


class IssueRead(BaseModel):
    type: Literal["issue"] = "issue"
    id: int
    repository: RepositorySummary
    title: str
    reporter: UserRead | None
    assignee: UserRead | None
    created_on: str | None
    updated_on: str | None
    edited_on: str | None
    state: str
    kind: str
    priority: str
    milestone: dict[str, Any] | None = None
    version: dict[str, Any] | None = None
    component: dict[str, Any] | None = None
    votes: int
    watches: int = 0
    content: Content
    links: Links


def issue_read(ctx: IssueContext, urls: Urls) -> IssueRead:
    issue = ctx.issue
    u = IssueUrls(ctx, urls)
    return IssueRead(
        id=issue.number,
        repository=repository_summary(ctx.repo, urls),
        title=issue.title,
        reporter=user_read(ctx.reporter, urls) if ctx.reporter else None,
        assignee=user_read(ctx.assignee, urls) if ctx.assignee else None,
        created_on=isoformat(issue.created_at),
        updated_on=isoformat(issue.updated_at),
        edited_on=isoformat(issue.edited_at),
        state=issue.state,
        kind=issue.kind,
        priority=issue.priority,
        votes=issue.votes,
        content=content(issue.content),
        links={
            "self": urls.link(u.api()),
            "html": urls.link(u.html()),
            "comments": urls.link(u.api("comments")),
            "changes": urls.link(u.api("changes")),
            "attachments": urls.link(u.api("attachments")),
            "watch": urls.link(u.api("watch")),
            "vote": urls.link(u.api("vote")),
        },
    )


class IssueSummary(BaseModel):
    type: Literal["issue"] = "issue"
    id: int
    repository: RepositorySummary
    title: str
    links: Links


def issue_summary(ctx: IssueContext, urls: Urls) -> IssueSummary:
    u = IssueUrls(ctx, urls)
    return IssueSummary(
        id=ctx.issue.number,
        repository=repository_summary(ctx.repo, urls),
        title=ctx.issue.title,
        links={"self": urls.link(u.api()), "html": urls.link(u.html())},
    )


class IssueCommentRead(BaseModel):
    type: Literal["issue_comment"] = "issue_comment"
    id: int
    created_on: str | None
    updated_on: str | None
    content: Content
    user: UserRead | None
    issue: IssueSummary
    links: Links


def issue_comment_read(
    ctx: IssueContext, comment: IssueComment, author: User | None, urls: Urls
) -> IssueCommentRead:
    u = IssueUrls(ctx, urls)
    return IssueCommentRead(
        id=comment.id,
        created_on=isoformat(comment.created_at),
        updated_on=isoformat(comment.updated_at),
        content=content(comment.content),
        user=user_read(author, urls) if author else None,
        issue=issue_summary(ctx, urls),
        links={
            "self": urls.link(u.api("comments", str(comment.id))),
            "html": urls.link(u.html() + f"#comment-{comment.id}"),
        },
    )


class IssueChangeRead(BaseModel):
    type: Literal["issue_change"] = "issue_change"
    id: int
    name: str
    created_on: str | None
    user: UserRead | None
    issue: IssueSummary
    changes: dict[str, dict[str, str]]
    message: Content
    links: Links


def issue_change_read(
    ctx: IssueContext,
    change: IssueChange,
    author: User | None,
    comment: IssueComment | None,
    urls: Urls,
) -> IssueChangeRead:
    u = IssueUrls(ctx, urls)
    return IssueChangeRead(
        id=change.id,
        name=str(change.id),
        created_on=isoformat(change.created_at),
        user=user_read(author, urls) if author else None,
        issue=issue_summary(ctx, urls),
        changes={
            k: {"old": str(v.get("old", "")), "new": str(v.get("new", ""))}
            for k, v in change.changes.items()
        },
        message=content(comment.content if comment else ""),
        links={
            "self": urls.link(u.api("changes", str(change.id))),
            "issue": urls.link(u.api()),
        },
    )


# ---- bodies ----------------------------------------------------------------------------------
class ContentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    raw: str = Field(default="", max_length=256 * 1024)


class AccountRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uuid: str | None = None
    account_id: str | None = None
    username: str | None = None

    @property
    def reference(self) -> str | None:
        return self.uuid or self.account_id or self.username


class IssueCreate(BaseModel):
    """``POST /repositories/{ws}/{slug}/issues``."""

    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1, max_length=255)
    content: ContentIn | None = None
    kind: Kind = "bug"
    priority: Priority = "major"
    state: State = "new"
    assignee: AccountRef | None = None


class IssueUpdate(BaseModel):
    """``PUT .../issues/{id}``: only the fields given change; ``"assignee": null`` unassigns."""

    model_config = ConfigDict(extra="ignore")
    title: str | None = Field(default=None, min_length=1, max_length=255)
    content: ContentIn | None = None
    kind: Kind | None = None
    priority: Priority | None = None
    state: State | None = None
    assignee: AccountRef | None = None


class ChangeValue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    new: str | None = None


class ChangeFields(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: ChangeValue | None = None
    content: ChangeValue | None = None
    kind: ChangeValue | None = None
    priority: ChangeValue | None = None
    state: ChangeValue | None = None
    assignee_account_id: ChangeValue | None = None
    assignee: ChangeValue | None = None


class IssueChangeCreate(BaseModel):
    """``POST .../issues/{id}/changes``: ``{"changes": {"state": {"new": "resolved"}},
    "message": {"raw": "..."}}``."""

    model_config = ConfigDict(extra="ignore")
    changes: ChangeFields = Field(default_factory=ChangeFields)
    message: ContentIn | None = None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: ContentIn
