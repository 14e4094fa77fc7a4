"""Account objects in Bitbucket's REST 2.0 shapes, and the bodies the API accepts.

Builders take ORM rows and :class:`Urls` and return schemas; nothing past a route sees a row.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.models import Membership, Project, User, Workspace

Links = dict[str, dict[str, str]]


class UserRead(BaseModel):
    type: Literal["user"] = "user"
    uuid: str
    account_id: str
    username: str
    nickname: str
    display_name: str
    account_status: str = "active"
    created_on: str | None
    is_staff: bool = False
    has_2fa_enabled: bool | None = None
    links: Links


class TeamRead(BaseModel):
    """A workspace in the legacy ``team`` account shape (Connect principals, project owners)."""

    type: Literal["team"] = "team"
    uuid: str
    username: str
    display_name: str
    created_on: str | None
    links: Links


class WorkspaceRead(BaseModel):
    type: Literal["workspace"] = "workspace"
    uuid: str
    name: str
    slug: str
    is_private: bool
    created_on: str | None
    updated_on: str | None
    links: Links


class WorkspaceMembershipRead(BaseModel):
    type: Literal["workspace_membership"] = "workspace_membership"
    permission: str
    user: UserRead
    workspace: WorkspaceRead
    links: Links


class WorkspaceAccessRead(BaseModel):
    type: Literal["workspace_access"] = "workspace_access"
    administrator: bool
    workspace: WorkspaceRead
    links: Links


class ProjectRead(BaseModel):
    type: Literal["project"] = "project"
    uuid: str
    key: str
    name: str
    description: str
    is_private: bool
    created_on: str | None
    updated_on: str | None
    has_publicly_visible_repos: bool = False
    owner: TeamRead | UserRead
    workspace: WorkspaceRead
    links: Links


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    is_private: bool = True


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    is_private: bool | None = None


def user_read(user: User, urls: Urls) -> UserRead:
    return UserRead(
        uuid=user.uuid,
        account_id=user.account_id,
        username=user.username,
        nickname=user.username,
        display_name=user.display_name,
        created_on=isoformat(user.created_at),
        links={
            "self": urls.link(urls.api("users", user.uuid)),
            "html": urls.link(urls.html(user.username)),
            "avatar": urls.link(urls.html("account", user.username, "avatar")),
            "repositories": urls.link(urls.api("repositories", user.username)),
        },
    )


def workspace_read(ws: Workspace, urls: Urls) -> WorkspaceRead:
    return WorkspaceRead(
        uuid=ws.uuid,
        name=ws.name,
        slug=ws.slug,
        is_private=ws.is_private,
        created_on=isoformat(ws.created_at),
        updated_on=isoformat(ws.updated_at),
        links={
            "self": urls.link(urls.api("workspaces", ws.slug)),
            "html": urls.link(urls.html(ws.slug)),
            "avatar": urls.link(urls.html("account", ws.slug, "avatar")),
            "members": urls.link(urls.api("workspaces", ws.slug, "members")),
            "owners": urls.link(
                urls.api("workspaces", ws.slug, "members") + "?q=permission%3D%22owner%22"
            ),
            "projects": urls.link(urls.api("workspaces", ws.slug, "projects")),
            "repositories": urls.link(urls.api("repositories", ws.slug)),
            "snippets": urls.link(urls.api("snippets", ws.slug)),
            "hooks": urls.link(urls.api("workspaces", ws.slug, "hooks")),
        },
    )


def team_read(ws: Workspace, urls: Urls) -> TeamRead:
    return TeamRead(
        uuid=ws.uuid,
        username=ws.slug,
        display_name=ws.name,
        created_on=isoformat(ws.created_at),
        links={
            "self": urls.link(urls.api("workspaces", ws.slug)),
            "html": urls.link(urls.html(ws.slug)),
            "avatar": urls.link(urls.html("account", ws.slug, "avatar")),
        },
    )


def owner_read(ws: Workspace, owner: User | None, urls: Urls) -> TeamRead | UserRead:
    """The account that owns a workspace's objects: the user for a personal one, else the team."""
    if ws.kind == "personal" and owner is not None:
        return user_read(owner, urls)
    return team_read(ws, urls)


def membership_read(
    m: Membership, user: User, ws: Workspace, urls: Urls
) -> WorkspaceMembershipRead:
    return WorkspaceMembershipRead(
        permission=m.role,
        user=user_read(user, urls),
        workspace=workspace_read(ws, urls),
        links={"self": urls.link(urls.api("workspaces", ws.slug, "members", user.uuid))},
    )


def project_read(p: Project, ws: Workspace, owner: User | None, urls: Urls) -> ProjectRead:
    return ProjectRead(
        uuid=p.uuid,
        key=p.key,
        name=p.name,
        description=p.description,
        is_private=p.is_private,
        created_on=isoformat(p.created_at),
        updated_on=isoformat(p.updated_at),
        owner=owner_read(ws, owner, urls),
        workspace=workspace_read(ws, urls),
        links={
            "self": urls.link(urls.api("workspaces", ws.slug, "projects", p.key)),
            "html": urls.link(urls.html(ws.slug, "workspace", "projects", p.key)),
            "avatar": urls.link(urls.html("account", ws.slug, "avatar")),
            "repositories": urls.link(
                urls.api("repositories", ws.slug) + f"?q=project.key%3D%22{p.key}%22"
            ),
        },
    )
