"""Repository objects in Bitbucket's REST 2.0 shapes, and the bodies the API accepts.

Builders take a :class:`RepoContext` (the repository and the rows around it) or git value objects
plus :class:`Urls`, and return pydantic models; routes return those, webhook payloads dump them.
Every object carries ``type`` and absolute ``links`` under BASE_URL.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field

from appdock.account.schemas import (
    TeamRead,
    UserRead,
    WorkspaceRead,
    owner_read,
    user_read,
    workspace_read,
)
from appdock.core.markup import rendered
from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.git import Commit, FileChange, Person, Ref, TreeEntry
from appdock.models import CommitStatus, Project, User, Workspace
from appdock.repo.context import RepoContext

Links = dict[str, Any]
MERGE_STRATEGIES = ["merge_commit", "squash", "fast_forward"]


class RepoUrls:
    """Absolute API and page URLs of one repository."""

    def __init__(self, ctx: RepoContext, urls: Urls) -> None:
        self.urls = urls
        self.ws = ctx.workspace.slug
        self.slug = ctx.repo.slug

    def api(self, *parts: str) -> str:
        return self.urls.api("repositories", self.ws, self.slug, *parts)

    def html(self, *parts: str) -> str:
        return self.urls.html(self.ws, self.slug, *parts)

    def path_api(self, head: str, rev: str, path: str = "") -> str:
        base = self.api(head, rev)
        return base + "/" + quote(path, safe="/") if path else base

    def path_html(self, head: str, rev: str, path: str = "") -> str:
        base = self.html(head, rev)
        return base + "/" + quote(path, safe="/") if path else base

    @property
    def clone_https(self) -> str:
        return f"{self.urls.base}/{self.ws}/{self.slug}.git"


# ---- repository ------------------------------------------------------------------------------
class ProjectSummary(BaseModel):
    type: Literal["project"] = "project"
    key: str
    uuid: str
    name: str
    links: Links


class BranchSummary(BaseModel):
    type: Literal["branch"] = "branch"
    name: str


class RepositorySummary(BaseModel):
    type: Literal["repository"] = "repository"
    full_name: str
    name: str
    uuid: str
    links: Links


class RepositoryRead(BaseModel):
    type: Literal["repository"] = "repository"
    uuid: str
    full_name: str
    name: str
    slug: str
    description: str
    scm: Literal["git"] = "git"
    website: str | None
    language: str
    is_private: bool
    fork_policy: str
    has_issues: bool
    has_wiki: bool
    size: int
    created_on: str | None
    updated_on: str | None
    owner: UserRead | TeamRead
    workspace: WorkspaceRead
    project: ProjectSummary | None
    mainbranch: BranchSummary | None
    parent: RepositorySummary | None = None
    links: Links


def project_summary(project: Project, ws: Workspace, urls: Urls) -> ProjectSummary:
    return ProjectSummary(
        key=project.key,
        uuid=project.uuid,
        name=project.name,
        links={
            "self": urls.link(urls.api("workspaces", ws.slug, "projects", project.key)),
            "html": urls.link(urls.html(ws.slug, "workspace", "projects", project.key)),
            "avatar": urls.link(urls.html("account", ws.slug, "avatar")),
        },
    )


def repository_links(ctx: RepoContext, urls: Urls) -> Links:
    r = RepoUrls(ctx, urls)
    link = urls.link
    return {
        "self": link(r.api()),
        "html": link(r.html()),
        "avatar": link(r.html("avatar")),
        "pullrequests": link(r.api("pullrequests")),
        "commits": link(r.api("commits")),
        "forks": link(r.api("forks")),
        "watchers": link(r.api("watchers")),
        "downloads": link(r.api("downloads")),
        "clone": [{"name": "https", "href": r.clone_https}],
        "hooks": link(r.api("hooks")),
        "source": link(r.api("src")),
        "branches": link(r.api("refs", "branches")),
        "tags": link(r.api("refs", "tags")),
        "issues": link(r.api("issues")),
    }


def repository_summary(ctx: RepoContext, urls: Urls) -> RepositorySummary:
    r = RepoUrls(ctx, urls)
    return RepositorySummary(
        full_name=ctx.full_name,
        name=ctx.repo.name,
        uuid=ctx.repo.uuid,
        links={
            "self": urls.link(r.api()),
            "html": urls.link(r.html()),
            "avatar": urls.link(r.html("avatar")),
        },
    )


def repository_read(ctx: RepoContext, urls: Urls) -> RepositoryRead:
    repo = ctx.repo
    return RepositoryRead(
        uuid=repo.uuid,
        full_name=ctx.full_name,
        name=repo.name,
        slug=repo.slug,
        description=repo.description,
        website=repo.website or None,
        language=repo.language,
        is_private=repo.is_private,
        fork_policy=repo.fork_policy,
        has_issues=repo.has_issues,
        has_wiki=repo.has_wiki,
        size=repo.size,
        created_on=isoformat(repo.created_at),
        updated_on=isoformat(repo.updated_at),
        owner=owner_read(ctx.workspace, ctx.owner, urls),
        workspace=workspace_read(ctx.workspace, urls),
        project=project_summary(ctx.project, ctx.workspace, urls) if ctx.project else None,
        mainbranch=BranchSummary(name=repo.mainbranch) if repo.mainbranch else None,
        parent=repository_summary(ctx.parent, urls) if ctx.parent else None,
        links=repository_links(ctx, urls),
    )


class ProjectKey(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str = Field(min_length=1, max_length=32)


class WorkspaceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    slug: str | None = None
    uuid: str | None = None


ForkPolicy = Literal["allow_forks", "no_public_forks", "no_forks"]


class RepositoryCreate(BaseModel):
    """``POST /repositories/{workspace}/{repo_slug}``, as Bitbucket's body."""

    model_config = ConfigDict(extra="ignore")

    scm: Literal["git"] = "git"
    name: str | None = Field(default=None, max_length=255)
    is_private: bool = True
    description: str = Field(default="", max_length=10000)
    project: ProjectKey | None = None
    fork_policy: ForkPolicy = "allow_forks"
    language: str = Field(default="", max_length=64)
    website: str = Field(default="", max_length=1024)
    has_issues: bool = True
    has_wiki: bool = False


class RepositoryUpdate(BaseModel):
    """``PUT /repositories/{workspace}/{repo_slug}``: only the fields given change.
    A ``slug`` renames the repository (its URLs change; its uuid and disk location do not)."""

    model_config = ConfigDict(extra="ignore")

    scm: Literal["git"] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=255)
    slug: str | None = None
    is_private: bool | None = None
    description: str | None = Field(default=None, max_length=10000)
    project: ProjectKey | None = None
    fork_policy: ForkPolicy | None = None
    language: str | None = Field(default=None, max_length=64)
    website: str | None = Field(default=None, max_length=1024)
    has_issues: bool | None = None
    has_wiki: bool | None = None


class ForkCreate(BaseModel):
    """``POST /repositories/{workspace}/{repo_slug}/forks``."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=255)
    slug: str | None = None
    workspace: WorkspaceRef | None = None
    is_private: bool | None = None
    description: str | None = None
    project: ProjectKey | None = None
    fork_policy: ForkPolicy | None = None


# ---- commits ---------------------------------------------------------------------------------
class CommitSummary(BaseModel):
    type: Literal["commit"] = "commit"
    hash: str
    links: Links


class AuthorRead(BaseModel):
    type: Literal["author"] = "author"
    raw: str
    user: UserRead | None = None


class CommitRead(BaseModel):
    type: Literal["commit"] = "commit"
    hash: str
    date: str | None
    author: AuthorRead
    message: str
    summary: dict[str, str]
    parents: list[CommitSummary]
    repository: RepositorySummary | None = None
    links: Links


def commit_summary(ctx: RepoContext, commit_hash: str, urls: Urls) -> CommitSummary:
    r = RepoUrls(ctx, urls)
    return CommitSummary(
        hash=commit_hash,
        links={
            "self": urls.link(r.api("commit", commit_hash)),
            "html": urls.link(r.html("commits", commit_hash)),
        },
    )


def author_read(person: Person, users_by_email: Mapping[str, User], urls: Urls) -> AuthorRead:
    user = users_by_email.get(person.email.lower())
    return AuthorRead(raw=person.raw, user=user_read(user, urls) if user else None)


def commit_read(
    ctx: RepoContext,
    commit: Commit,
    urls: Urls,
    users_by_email: Mapping[str, User] | None = None,
    *,
    with_repository: bool = True,
) -> CommitRead:
    r = RepoUrls(ctx, urls)
    h = commit.hash
    return CommitRead(
        hash=h,
        date=isoformat(commit.author.date),
        author=author_read(commit.author, users_by_email or {}, urls),
        message=commit.message,
        summary=rendered(commit.message),
        parents=[commit_summary(ctx, p, urls) for p in commit.parents],
        repository=repository_summary(ctx, urls) if with_repository else None,
        links={
            "self": urls.link(r.api("commit", h)),
            "html": urls.link(r.html("commits", h)),
            "diff": urls.link(r.api("diff", h)),
            "patch": urls.link(r.api("patch", h)),
            "comments": urls.link(r.api("commit", h, "comments")),
            "approve": urls.link(r.api("commit", h, "approve")),
            "statuses": urls.link(r.api("commit", h, "statuses")),
        },
    )


# ---- refs ------------------------------------------------------------------------------------
class BranchRead(BaseModel):
    type: Literal["branch"] = "branch"
    name: str
    target: CommitRead
    merge_strategies: list[str] = Field(default_factory=lambda: list(MERGE_STRATEGIES))
    default_merge_strategy: str = "merge_commit"
    links: Links


class TagRead(BaseModel):
    type: Literal["tag"] = "tag"
    name: str
    target: CommitRead
    message: str | None = None
    date: str | None = None
    tagger: AuthorRead | None = None
    links: Links


def ref_links(ctx: RepoContext, kind: str, name: str, urls: Urls) -> Links:
    r = RepoUrls(ctx, urls)
    collection = "branches" if kind == "branch" else "tags"
    return {
        "self": urls.link(r.api("refs", collection) + "/" + quote(name, safe="/")),
        "commits": urls.link(r.api("commits") + "/" + quote(name, safe="/")),
        "html": urls.link(
            r.html("commits", "branch" if kind == "branch" else "tag") + "/" + quote(name, safe="/")
        ),
    }


def branch_read(
    ctx: RepoContext,
    ref: Ref,
    urls: Urls,
    users_by_email: Mapping[str, User] | None = None,
    *,
    with_repository: bool = True,
) -> BranchRead:
    assert ref.commit is not None
    return BranchRead(
        name=ref.name,
        target=commit_read(ctx, ref.commit, urls, users_by_email, with_repository=with_repository),
        links=ref_links(ctx, "branch", ref.name, urls),
    )


def tag_read(
    ctx: RepoContext,
    ref: Ref,
    urls: Urls,
    users_by_email: Mapping[str, User] | None = None,
    *,
    with_repository: bool = True,
) -> TagRead:
    assert ref.commit is not None
    users = users_by_email or {}
    return TagRead(
        name=ref.name,
        target=commit_read(ctx, ref.commit, urls, users, with_repository=with_repository),
        message=ref.tag_message,
        date=isoformat(ref.tagger.date) if ref.tagger else None,
        tagger=author_read(ref.tagger, users, urls) if ref.tagger else None,
        links=ref_links(ctx, "tag", ref.name, urls),
    )


class RefTarget(BaseModel):
    model_config = ConfigDict(extra="ignore")
    hash: str = Field(min_length=1, max_length=255)


class BranchCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=255)
    target: RefTarget


class TagCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=255)
    target: RefTarget
    message: str | None = Field(default=None, max_length=10000)


# ---- source ----------------------------------------------------------------------------------
class CommitFileRead(BaseModel):
    type: Literal["commit_file"] = "commit_file"
    path: str
    escaped_path: str
    commit: CommitSummary
    attributes: list[str] = Field(default_factory=list)
    size: int | None = None
    mimetype: str | None = None
    links: Links


class CommitDirectoryRead(BaseModel):
    type: Literal["commit_directory"] = "commit_directory"
    path: str
    commit: CommitSummary
    links: Links


def guess_mimetype(path: str) -> str | None:
    return mimetypes.guess_type(path, strict=False)[0]


def tree_entry_read(
    ctx: RepoContext, commit_hash: str, entry: TreeEntry, urls: Urls
) -> CommitFileRead | CommitDirectoryRead:
    r = RepoUrls(ctx, urls)
    src = r.path_api("src", commit_hash, entry.path)
    if entry.is_dir:
        return CommitDirectoryRead(
            path=entry.path,
            commit=commit_summary(ctx, commit_hash, urls),
            links={"self": urls.link(src + "/"), "meta": urls.link(src + "/?format=meta")},
        )
    attributes = []
    if entry.is_link:
        attributes.append("link")
    if entry.is_executable:
        attributes.append("executable")
    if entry.is_submodule:
        attributes.append("subrepository")
    return CommitFileRead(
        path=entry.path,
        escaped_path=entry.path,
        commit=commit_summary(ctx, commit_hash, urls),
        attributes=attributes,
        size=entry.size,
        mimetype=guess_mimetype(entry.path),
        links={
            "self": urls.link(src),
            "meta": urls.link(src + "?format=meta"),
            "history": urls.link(r.path_api("filehistory", commit_hash, entry.path)),
        },
    )


# ---- diffstat --------------------------------------------------------------------------------
class DiffstatFile(BaseModel):
    type: Literal["commit_file"] = "commit_file"
    path: str
    escaped_path: str
    links: Links


class DiffstatRead(BaseModel):
    type: Literal["diffstat"] = "diffstat"
    status: str
    lines_added: int
    lines_removed: int
    old: DiffstatFile | None
    new: DiffstatFile | None


def diffstat_read(
    ctx: RepoContext, change: FileChange, old_rev: str, new_rev: str, urls: Urls
) -> DiffstatRead:
    r = RepoUrls(ctx, urls)

    def side(path: str | None, rev: str) -> DiffstatFile | None:
        if path is None:
            return None
        return DiffstatFile(
            path=path,
            escaped_path=path,
            links={"self": urls.link(r.path_api("src", rev, path))},
        )

    return DiffstatRead(
        status=change.status,
        lines_added=change.lines_added,
        lines_removed=change.lines_removed,
        old=side(change.old_path, old_rev),
        new=side(change.new_path, new_rev),
    )


# ---- build statuses --------------------------------------------------------------------------
StatusState = Literal["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"]


class CommitStatusRead(BaseModel):
    type: Literal["build"] = "build"
    uuid: str
    key: str
    name: str
    state: str
    description: str
    url: str
    refname: str | None
    created_on: str | None
    updated_on: str | None
    commit: CommitSummary
    repository: RepositorySummary
    links: Links


class CommitStatusCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=255)
    state: StatusState
    url: str = Field(min_length=1, max_length=2048)
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=10000)
    refname: str | None = Field(default=None, max_length=255)


class CommitStatusUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: StatusState | None = None
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=10000)
    refname: str | None = Field(default=None, max_length=255)


def commit_status_read(ctx: RepoContext, status: CommitStatus, urls: Urls) -> CommitStatusRead:
    r = RepoUrls(ctx, urls)
    h = status.commit_hash
    return CommitStatusRead(
        uuid=status.uuid,
        key=status.key,
        name=status.name,
        state=status.state,
        description=status.description,
        url=status.url,
        refname=status.refname,
        created_on=isoformat(status.created_at),
        updated_on=isoformat(status.updated_at),
        commit=commit_summary(ctx, h, urls),
        repository=repository_summary(ctx, urls),
        links={
            "self": urls.link(
                r.api("commit", h, "statuses", "build") + "/" + quote(status.key, safe="")
            ),
            "commit": urls.link(r.api("commit", h)),
        },
    )


def commits_link(ctx: RepoContext, urls: Urls, include: str, exclude: str | None) -> str:
    params = [("include", include)] + ([("exclude", exclude)] if exclude else [])
    return RepoUrls(ctx, urls).api("commits") + "?" + urlencode(params)
