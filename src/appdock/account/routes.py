"""REST 2.0: the current user, users, workspaces, members and projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from appdock.account import schemas
from appdock.account.schemas import (
    ProjectCreate,
    ProjectRead,
    TeamRead,
    UserRead,
    WorkspaceRead,
)
from appdock.account.service import AccountService
from appdock.api.pagination import PageDep, Paginated
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.core.errors import NotFound
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.models import User, Workspace

router = APIRouter(tags=["account"])

AccountRead = Annotated[Grant[None], Depends(authorize(Scope.ACCOUNT, authenticated=True))]
AccountPublic = Annotated[Grant[None], Depends(authorize(None))]
ProjectReadGrant = Annotated[Grant[None], Depends(authorize(Scope.PROJECT))]
ProjectAdmin = Annotated[
    Grant[ProjectCreate], Depends(authorize(Scope.PROJECT_ADMIN, ProjectCreate, authenticated=True))
]


def _current_user(svc: AccountService, subject: AuthSubject) -> User:
    if subject.user_id is None:
        # A team installation acts as its workspace, which has no user record.
        raise NotFound("this credential acts as a workspace, not a user; see /workspaces")
    return svc.user_by_id(subject.user_id)


def _owner(svc: AccountService, ws: Workspace) -> User | None:
    return svc.store.user_by_id(ws.owner_user_id) if ws.owner_user_id else None


@router.get("/user", response_model=UserRead | TeamRead, summary="The current user")
def get_current_user(
    grant: AccountRead, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> UserRead | TeamRead:
    svc = AccountService(db, settings.secret)
    subject = grant.subject
    if subject.user_id is None and subject.workspace_id is not None:
        # A team installation (app JWT or its access token) is its principal, the team, as in
        # the install payload's ``principal``; Connect apps read /2.0/user to learn it.
        ws = svc.store.workspace_by_id(subject.workspace_id)
        if ws is not None:
            return schemas.team_read(ws, urls)
    return schemas.user_read(_current_user(svc, subject), urls)


@router.get(
    "/user/workspaces",
    response_model=Paginated[schemas.WorkspaceAccessRead],
    summary="Workspaces the current user is a member of",
)
def list_current_user_workspaces(
    grant: AccountRead, db: DbDep, settings: SettingsDep, urls: UrlsDep, page: PageDep
) -> Paginated[schemas.WorkspaceAccessRead]:
    svc = AccountService(db, settings.secret)
    rows, total = _acting_workspaces(svc, grant.subject, page.offset, page.limit)
    values = [
        schemas.WorkspaceAccessRead(
            administrator=role in ("admin", "owner"),
            workspace=schemas.workspace_read(ws, urls),
            links={"self": urls.link(urls.api("user", "workspaces", ws.slug, "permission"))},
        )
        for ws, role in rows
    ]
    return page.envelope(values, total)


@router.get(
    "/user/permissions/workspaces",
    response_model=Paginated[schemas.WorkspaceMembershipRead],
    summary="The current user's workspace memberships",
)
def list_current_user_workspace_permissions(
    grant: AccountRead, db: DbDep, settings: SettingsDep, urls: UrlsDep, page: PageDep
) -> Paginated[schemas.WorkspaceMembershipRead]:
    svc = AccountService(db, settings.secret)
    user = _current_user(svc, grant.subject)
    rows, total = svc.member_workspaces(user.id, page.offset, page.limit)
    values = []
    for ws, _role in rows:
        m = svc.store.membership(ws.id, user.id)
        assert m is not None
        values.append(schemas.membership_read(m, user, ws, urls))
    return page.envelope(values, total)


def _acting_workspaces(
    svc: AccountService, subject: AuthSubject, offset: int, limit: int
) -> tuple[list[tuple[Workspace, str]], int]:
    if subject.user_id is not None:
        return svc.member_workspaces(subject.user_id, offset, limit)
    if subject.workspace_id is not None:
        ws = svc.store.workspace_by_id(subject.workspace_id)
        rows = [(ws, "member")] if ws is not None else []
        return rows[offset : offset + limit], len(rows)
    return [], 0


@router.get("/users/{selected_user}", response_model=UserRead, summary="A user")
def get_user(
    selected_user: str, grant: AccountPublic, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> UserRead:
    svc = AccountService(db, settings.secret)
    return schemas.user_read(svc.get_user(selected_user), urls)


@router.get(
    "/workspaces", response_model=Paginated[WorkspaceRead], summary="Workspaces of the caller"
)
def list_workspaces(
    grant: AccountRead, db: DbDep, settings: SettingsDep, urls: UrlsDep, page: PageDep
) -> Paginated[WorkspaceRead]:
    svc = AccountService(db, settings.secret)
    rows, total = _acting_workspaces(svc, grant.subject, page.offset, page.limit)
    return page.envelope([schemas.workspace_read(ws, urls) for ws, _ in rows], total)


@router.get("/workspaces/{workspace}", response_model=WorkspaceRead, summary="A workspace")
def get_workspace(
    workspace: str, grant: AccountPublic, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> WorkspaceRead:
    svc = AccountService(db, settings.secret)
    return schemas.workspace_read(svc.visible_workspace(workspace, grant.subject), urls)


def _members_workspace(svc: AccountService, slug: str, subject: AuthSubject) -> Workspace:
    ws = svc.visible_workspace(slug, subject)
    if not svc.is_member_or_acting(ws, subject):
        raise NotFound(f"workspace {slug!r} not found")
    return ws


@router.get(
    "/workspaces/{workspace}/members",
    response_model=Paginated[schemas.WorkspaceMembershipRead],
    summary="Members of a workspace",
)
def list_workspace_members(
    workspace: str,
    grant: AccountRead,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[schemas.WorkspaceMembershipRead]:
    svc = AccountService(db, settings.secret)
    ws = _members_workspace(svc, workspace, grant.subject)
    rows, total = svc.store.list_members(ws.id, page.offset, page.limit)
    return page.envelope([schemas.membership_read(m, u, ws, urls) for m, u in rows], total)


@router.get(
    "/workspaces/{workspace}/members/{member}",
    response_model=schemas.WorkspaceMembershipRead,
    summary="One member of a workspace",
)
def get_workspace_member(
    workspace: str,
    member: str,
    grant: AccountRead,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> schemas.WorkspaceMembershipRead:
    svc = AccountService(db, settings.secret)
    ws = _members_workspace(svc, workspace, grant.subject)
    user = svc.store.user_by_any_id(member)
    m = svc.store.membership(ws.id, user.id) if user else None
    if user is None or m is None:
        raise NotFound(f"{member!r} is not a member of workspace {workspace!r}")
    return schemas.membership_read(m, user, ws, urls)


@router.get(
    "/workspaces/{workspace}/projects",
    response_model=Paginated[ProjectRead],
    summary="Projects of a workspace",
)
def list_projects(
    workspace: str,
    grant: ProjectReadGrant,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
    page: PageDep,
) -> Paginated[ProjectRead]:
    svc = AccountService(db, settings.secret)
    ws = svc.visible_workspace(workspace, grant.subject)
    projects, total = svc.store.list_projects(ws.id, page.offset, page.limit)
    member = svc.is_member_or_acting(ws, grant.subject)
    owner = _owner(svc, ws)
    visible = [p for p in projects if member or not p.is_private]
    return page.envelope(
        [schemas.project_read(p, ws, owner, urls) for p in visible],
        total if member else len(visible),
    )


@router.post(
    "/workspaces/{workspace}/projects",
    response_model=ProjectRead,
    status_code=201,
    summary="Create a project",
)
def create_project(
    workspace: str, grant: ProjectAdmin, db: DbDep, settings: SettingsDep, urls: UrlsDep
) -> ProjectRead:
    svc = AccountService(db, settings.secret)
    ws = svc.visible_workspace(workspace, grant.subject)
    if grant.subject.workspace_id != ws.id:
        svc.require_admin(ws, svc.user_by_id(grant.subject.user_id or -1))
    body = grant.body
    project = svc.create_project(
        ws,
        key=body.key,
        name=body.name,
        description=body.description,
        is_private=body.is_private,
    )
    return schemas.project_read(project, ws, _owner(svc, ws), urls)


@router.get(
    "/workspaces/{workspace}/projects/{project_key}",
    response_model=ProjectRead,
    summary="A project",
)
def get_project(
    workspace: str,
    project_key: str,
    grant: ProjectReadGrant,
    db: DbDep,
    settings: SettingsDep,
    urls: UrlsDep,
) -> ProjectRead:
    svc = AccountService(db, settings.secret)
    ws = svc.visible_workspace(workspace, grant.subject)
    project = svc.get_project(ws, project_key)
    if project.is_private and not svc.is_member_or_acting(ws, grant.subject):
        raise NotFound(f"project {project_key!r} not found in workspace {workspace!r}")
    return schemas.project_read(project, ws, _owner(svc, ws), urls)
