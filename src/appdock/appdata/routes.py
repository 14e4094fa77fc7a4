"""REST 2.0: app properties on repositories, commits, pull requests and users, and the linker
values of the calling app (``/2.0/addon/linkers``). Rules in ``appdata.service``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from appdock.api.pagination import PageDep, Paginated
from appdock.appdata import schemas
from appdock.appdata.schemas import (
    LinkerRead,
    LinkerValueCreate,
    LinkerValueRead,
    LinkerValuesReplace,
    PropertyBody,
)
from appdock.appdata.service import LinkerService, PropertyService, Target
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep
from appdock.core.scopes import Scope

router = APIRouter(tags=["properties"])
addon_router = APIRouter(tags=["addon"])

REPO = "/repositories/{workspace}/{repo_slug}"
PROP = "/properties/{app_key}/{property_name}"

RepoProp = Annotated[Grant[Any], Depends(authorize(Scope.REPOSITORY, authenticated=True))]
RepoPropPut = Annotated[
    Grant[PropertyBody],
    Depends(authorize(Scope.REPOSITORY, PropertyBody, authenticated=True)),
]
PrProp = Annotated[Grant[Any], Depends(authorize(Scope.PULLREQUEST, authenticated=True))]
PrPropPut = Annotated[
    Grant[PropertyBody],
    Depends(authorize(Scope.PULLREQUEST, PropertyBody, authenticated=True)),
]
UserProp = Annotated[Grant[Any], Depends(authorize(Scope.ACCOUNT, authenticated=True))]
UserPropPut = Annotated[
    Grant[PropertyBody], Depends(authorize(Scope.ACCOUNT, PropertyBody, authenticated=True))
]


def _svc(db: DbDep, settings: SettingsDep) -> PropertyService:
    return PropertyService(db, settings)


Svc = Annotated[PropertyService, Depends(_svc)]


def _get(svc: PropertyService, grant: Grant[Any], target: Target, app_key: str, name: str) -> Any:
    return JSONResponse(svc.get(grant.subject, target, app_key, name))


def _put(
    svc: PropertyService, grant: Grant[PropertyBody], target: Target, app_key: str, name: str
) -> Response:
    svc.put(grant.subject, target, app_key, name, grant.body.root)
    return Response(status_code=204)


def _delete(
    svc: PropertyService, grant: Grant[Any], target: Target, app_key: str, name: str
) -> Response:
    svc.delete(grant.subject, target, app_key, name)
    return Response(status_code=204)


# ---- repositories ----------------------------------------------------------------------------
@router.get(REPO + PROP, summary="A repository application property")
def get_repository_property(
    workspace: str, repo_slug: str, app_key: str, property_name: str, grant: RepoProp, svc: Svc
) -> Any:
    target = svc.repository(grant.subject, workspace, repo_slug)
    return _get(svc, grant, target, app_key, property_name)


@router.put(REPO + PROP, status_code=204, summary="Store a repository application property")
def put_repository_property(
    workspace: str, repo_slug: str, app_key: str, property_name: str, grant: RepoPropPut, svc: Svc
) -> Response:
    target = svc.repository(grant.subject, workspace, repo_slug)
    return _put(svc, grant, target, app_key, property_name)


@router.delete(REPO + PROP, status_code=204, summary="Delete a repository application property")
def delete_repository_property(
    workspace: str, repo_slug: str, app_key: str, property_name: str, grant: RepoProp, svc: Svc
) -> Response:
    target = svc.repository(grant.subject, workspace, repo_slug)
    return _delete(svc, grant, target, app_key, property_name)


# ---- commits ---------------------------------------------------------------------------------
COMMIT = REPO + "/commit/{commit}" + PROP


@router.get(COMMIT, summary="A commit application property")
def get_commit_property(
    workspace: str,
    repo_slug: str,
    commit: str,
    app_key: str,
    property_name: str,
    grant: RepoProp,
    svc: Svc,
) -> Any:
    target = svc.commit(grant.subject, workspace, repo_slug, commit)
    return _get(svc, grant, target, app_key, property_name)


@router.put(COMMIT, status_code=204, summary="Store a commit application property")
def put_commit_property(
    workspace: str,
    repo_slug: str,
    commit: str,
    app_key: str,
    property_name: str,
    grant: RepoPropPut,
    svc: Svc,
) -> Response:
    target = svc.commit(grant.subject, workspace, repo_slug, commit)
    return _put(svc, grant, target, app_key, property_name)


@router.delete(COMMIT, status_code=204, summary="Delete a commit application property")
def delete_commit_property(
    workspace: str,
    repo_slug: str,
    commit: str,
    app_key: str,
    property_name: str,
    grant: RepoProp,
    svc: Svc,
) -> Response:
    target = svc.commit(grant.subject, workspace, repo_slug, commit)
    return _delete(svc, grant, target, app_key, property_name)


# ---- pull requests ---------------------------------------------------------------------------
PR = REPO + "/pullrequests/{pullrequest_id}" + PROP


@router.get(PR, summary="A pull request application property")
def get_pullrequest_property(
    workspace: str,
    repo_slug: str,
    pullrequest_id: int,
    app_key: str,
    property_name: str,
    grant: PrProp,
    svc: Svc,
) -> Any:
    target = svc.pullrequest(grant.subject, workspace, repo_slug, pullrequest_id)
    return _get(svc, grant, target, app_key, property_name)


@router.put(PR, status_code=204, summary="Store a pull request application property")
def put_pullrequest_property(
    workspace: str,
    repo_slug: str,
    pullrequest_id: int,
    app_key: str,
    property_name: str,
    grant: PrPropPut,
    svc: Svc,
) -> Response:
    target = svc.pullrequest(grant.subject, workspace, repo_slug, pullrequest_id)
    return _put(svc, grant, target, app_key, property_name)


@router.delete(PR, status_code=204, summary="Delete a pull request application property")
def delete_pullrequest_property(
    workspace: str,
    repo_slug: str,
    pullrequest_id: int,
    app_key: str,
    property_name: str,
    grant: PrProp,
    svc: Svc,
) -> Response:
    target = svc.pullrequest(grant.subject, workspace, repo_slug, pullrequest_id)
    return _delete(svc, grant, target, app_key, property_name)


# ---- users -----------------------------------------------------------------------------------
USER = "/users/{selected_user}" + PROP


@router.get(USER, summary="A user application property")
def get_user_property(
    selected_user: str, app_key: str, property_name: str, grant: UserProp, svc: Svc
) -> Any:
    target = svc.user(grant.subject, selected_user)
    return _get(svc, grant, target, app_key, property_name)


@router.put(USER, status_code=204, summary="Store a user application property")
def put_user_property(
    selected_user: str, app_key: str, property_name: str, grant: UserPropPut, svc: Svc
) -> Response:
    target = svc.user(grant.subject, selected_user)
    return _put(svc, grant, target, app_key, property_name)


@router.delete(USER, status_code=204, summary="Delete a user application property")
def delete_user_property(
    selected_user: str, app_key: str, property_name: str, grant: UserProp, svc: Svc
) -> Response:
    target = svc.user(grant.subject, selected_user)
    return _delete(svc, grant, target, app_key, property_name)


# ---- linker values of the calling app --------------------------------------------------------
AppCall = Annotated[Grant[Any], Depends(authorize(None, authenticated=True))]
ValueCreate = Annotated[
    Grant[LinkerValueCreate], Depends(authorize(None, LinkerValueCreate, authenticated=True))
]
ValuesReplace = Annotated[
    Grant[LinkerValuesReplace], Depends(authorize(None, LinkerValuesReplace, authenticated=True))
]
LINKER = "/addon/linkers/{linker_key}"


@addon_router.get("/addon/linkers", response_model=Paginated[LinkerRead], summary="App linkers")
def list_linkers(grant: AppCall, db: DbDep, page: PageDep) -> Paginated[LinkerRead]:
    linkers = LinkerService(db, grant.subject).linkers()
    chunk = linkers[page.offset : page.offset + page.limit]
    return page.envelope([schemas.linker_read(linker) for linker in chunk], len(linkers))


@addon_router.get(LINKER, response_model=LinkerRead, summary="An app linker")
def get_linker(linker_key: str, grant: AppCall, db: DbDep) -> LinkerRead:
    return schemas.linker_read(LinkerService(db, grant.subject).linker(linker_key))


@addon_router.get(
    LINKER + "/values", response_model=Paginated[LinkerValueRead], summary="Linker values"
)
def list_linker_values(
    linker_key: str, grant: AppCall, db: DbDep, page: PageDep
) -> Paginated[LinkerValueRead]:
    rows, total = LinkerService(db, grant.subject).values(linker_key, page.offset, page.limit)
    return page.envelope([schemas.linker_value_read(r) for r in rows], total)


@addon_router.post(
    LINKER + "/values",
    response_model=LinkerValueRead,
    status_code=201,
    summary="Add a linker value (409 when it exists)",
)
def add_linker_value(linker_key: str, grant: ValueCreate, db: DbDep) -> LinkerValueRead:
    row = LinkerService(db, grant.subject).add(linker_key, grant.body.value)
    return schemas.linker_value_read(row)


@addon_router.put(LINKER + "/values", status_code=204, summary="Replace every value of a linker")
def replace_linker_values(linker_key: str, grant: ValuesReplace, db: DbDep) -> Response:
    LinkerService(db, grant.subject).replace(linker_key, [v.value for v in grant.body.root])
    return Response(status_code=204)


@addon_router.delete(LINKER + "/values", status_code=204, summary="Delete every value of a linker")
def clear_linker_values(linker_key: str, grant: AppCall, db: DbDep) -> Response:
    LinkerService(db, grant.subject).clear(linker_key)
    return Response(status_code=204)


@addon_router.get(
    LINKER + "/values/{value_id}", response_model=LinkerValueRead, summary="A linker value"
)
def get_linker_value(linker_key: str, value_id: int, grant: AppCall, db: DbDep) -> LinkerValueRead:
    return schemas.linker_value_read(LinkerService(db, grant.subject).value(linker_key, value_id))


@addon_router.delete(
    LINKER + "/values/{value_id}", status_code=204, summary="Delete a linker value"
)
def delete_linker_value(linker_key: str, value_id: int, grant: AppCall, db: DbDep) -> Response:
    LinkerService(db, grant.subject).remove(linker_key, value_id)
    return Response(status_code=204)
