"""REST 2.0: repository and workspace webhooks in Bitbucket's ``webhook_subscription`` shape,
``/2.0/hook_events``, and appdock's delivery log, redelivery and test events under each hook.

Every hook route needs the ``webhook`` scope; the caller must administer the repository or the
workspace (hidden → 404, visible but not admin → 403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from appdock.api.pagination import PageDep, Paginated
from appdock.auth.authenticator import Grant, authorize
from appdock.auth.deps import DbDep, SettingsDep, UrlsDep
from appdock.core.errors import NotFound
from appdock.core.scopes import Scope
from appdock.core.urls import Urls
from appdock.models import WebhookSubscription
from appdock.webhook import schemas
from appdock.webhook.catalogue import EVENTS
from appdock.webhook.schemas import (
    DeliveryDetail,
    DeliveryRead,
    HookEventRead,
    RedeliverResult,
    RedeliverSince,
    SubjectTypesRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
)
from appdock.webhook.service import HookOwner, WebhookService

router = APIRouter(tags=["webhooks"])

HookRead = Annotated[Grant[Any], Depends(authorize(Scope.WEBHOOK, authenticated=True))]
HookCreate = Annotated[
    Grant[WebhookCreate], Depends(authorize(Scope.WEBHOOK, WebhookCreate, authenticated=True))
]
HookUpdate = Annotated[
    Grant[WebhookUpdate], Depends(authorize(Scope.WEBHOOK, WebhookUpdate, authenticated=True))
]
HookSince = Annotated[
    Grant[RedeliverSince], Depends(authorize(Scope.WEBHOOK, RedeliverSince, authenticated=True))
]
Public = Annotated[Grant[Any], Depends(authorize(None))]

REPO = "/repositories/{workspace}/{repo_slug}/hooks"
WS = "/workspaces/{workspace}/hooks"


def _svc(db: DbDep, settings: SettingsDep) -> WebhookService:
    return WebhookService(db, settings)


Svc = Annotated[WebhookService, Depends(_svc)]


def _read(
    svc: WebhookService, owner: HookOwner, sub: WebhookSubscription, urls: Urls
) -> WebhookRead:
    return schemas.webhook_read(sub, owner.workspace, owner.repository, urls)


def _delivery_url(owner: HookOwner, sub: WebhookSubscription, uuid: str, urls: Urls) -> str:
    return schemas.hook_self_url(owner.workspace, owner.repository, sub.uuid, urls) + (
        "/deliveries/" + uuid
    )


# ---- hook events ------------------------------------------------------------------------------
@router.get("/hook_events", response_model=SubjectTypesRead, summary="Webhook subject types")
def hook_subject_types(grant: Public, urls: UrlsDep) -> SubjectTypesRead:
    return SubjectTypesRead(
        repository={"events": {"href": urls.api("hook_events", "repository")}},
        workspace={"events": {"href": urls.api("hook_events", "workspace")}},
    )


@router.get(
    "/hook_events/{subject_type}",
    response_model=Paginated[HookEventRead],
    summary="Webhook events of a subject type",
)
def hook_events(subject_type: str, grant: Public, page: PageDep) -> Paginated[HookEventRead]:
    if subject_type not in ("repository", "workspace"):
        raise NotFound(f"subject type {subject_type!r} not found (repository or workspace)")
    events = [schemas.hook_event_read(e) for e in EVENTS]
    return page.envelope(events[page.offset : page.offset + page.limit], len(events))


# ---- shared handlers --------------------------------------------------------------------------
def _list(svc: WebhookService, owner: HookOwner, urls: Urls, page: Any) -> Paginated[WebhookRead]:
    rows, total = svc.hooks(owner, offset=page.offset, limit=page.limit)
    return page.envelope([_read(svc, owner, s, urls) for s in rows], total)  # type: ignore[no-any-return]


def _create(
    svc: WebhookService, owner: HookOwner, grant: Grant[WebhookCreate], urls: Urls
) -> Response:
    body = grant.body
    sub = svc.create(
        owner,
        grant.subject,
        url=body.url,
        events=body.events,
        description=body.description,
        active=body.active,
        secret=body.secret,
    )
    read = _read(svc, owner, sub, urls)
    return Response(
        read.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": read.links["self"]["href"]},
    )


def _update(
    svc: WebhookService, owner: HookOwner, uid: str, grant: Grant[WebhookUpdate], urls: Urls
) -> WebhookRead:
    sub = svc.get(owner, uid)
    changes = grant.body.model_dump(exclude_unset=True)
    return _read(svc, owner, svc.update(owner, sub, changes), urls)


def _deliveries(
    svc: WebhookService,
    owner: HookOwner,
    uid: str,
    urls: Urls,
    page: Any,
    status: str | None,
) -> Paginated[DeliveryRead]:
    sub = svc.get(owner, uid)
    rows, total = svc.deliveries([sub], status=status, offset=page.offset, limit=page.limit)
    values = [schemas.delivery_read(r, sub, _delivery_url(owner, sub, r.uuid, urls)) for r in rows]
    return page.envelope(values, total)  # type: ignore[no-any-return]


def _delivery(
    svc: WebhookService, owner: HookOwner, uid: str, delivery: str, urls: Urls
) -> DeliveryDetail:
    sub = svc.get(owner, uid)
    view = svc.delivery([sub], delivery)
    return schemas.delivery_detail(
        view.delivery,
        sub,
        _delivery_url(owner, sub, view.delivery.uuid, urls),
        view.attempts,
        view.request_body,
    )


def _redeliver(
    svc: WebhookService, owner: HookOwner, uid: str, delivery: str, urls: Urls
) -> DeliveryRead:
    sub = svc.get(owner, uid)
    row = svc.redeliver([sub], delivery)
    return schemas.delivery_read(row, sub, _delivery_url(owner, sub, row.uuid, urls))


def _test(
    svc: WebhookService, owner: HookOwner, uid: str, event: str | None, urls: Urls
) -> Response:
    sub = svc.get(owner, uid)
    row = svc.send_test(sub, event)
    read = schemas.delivery_read(row, sub, _delivery_url(owner, sub, row.uuid, urls))
    return Response(read.model_dump_json(), status_code=202, media_type="application/json")


# ---- repository hooks -------------------------------------------------------------------------
@router.get(REPO, response_model=Paginated[WebhookRead], summary="Webhooks of a repository")
def list_repo_hooks(
    workspace: str, repo_slug: str, grant: HookRead, svc: Svc, urls: UrlsDep, page: PageDep
) -> Paginated[WebhookRead]:
    return _list(svc, svc.repository_owner(grant.subject, workspace, repo_slug), urls, page)


@router.post(REPO, response_model=WebhookRead, status_code=201, summary="Create a webhook")
def create_repo_hook(
    workspace: str, repo_slug: str, grant: HookCreate, svc: Svc, urls: UrlsDep
) -> Response:
    return _create(svc, svc.repository_owner(grant.subject, workspace, repo_slug), grant, urls)


@router.get(REPO + "/{uid}", response_model=WebhookRead, summary="A repository webhook")
def get_repo_hook(
    workspace: str, repo_slug: str, uid: str, grant: HookRead, svc: Svc, urls: UrlsDep
) -> WebhookRead:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    return _read(svc, owner, svc.get(owner, uid), urls)


@router.put(REPO + "/{uid}", response_model=WebhookRead, summary="Update a repository webhook")
def update_repo_hook(
    workspace: str, repo_slug: str, uid: str, grant: HookUpdate, svc: Svc, urls: UrlsDep
) -> WebhookRead:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    return _update(svc, owner, uid, grant, urls)


@router.delete(REPO + "/{uid}", status_code=204, summary="Delete a repository webhook")
def delete_repo_hook(
    workspace: str, repo_slug: str, uid: str, grant: HookRead, svc: Svc
) -> Response:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    svc.delete(svc.get(owner, uid))
    return Response(status_code=204)


@router.get(
    REPO + "/{uid}/deliveries",
    response_model=Paginated[DeliveryRead],
    summary="Deliveries of a repository webhook (appdock)",
)
def list_repo_hook_deliveries(
    workspace: str,
    repo_slug: str,
    uid: str,
    grant: HookRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    status: Annotated[str | None, Query()] = None,
) -> Paginated[DeliveryRead]:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    return _deliveries(svc, owner, uid, urls, page, status)


@router.get(
    REPO + "/{uid}/deliveries/{delivery}",
    response_model=DeliveryDetail,
    summary="A delivery with its attempts (appdock)",
)
def get_repo_hook_delivery(
    workspace: str,
    repo_slug: str,
    uid: str,
    delivery: str,
    grant: HookRead,
    svc: Svc,
    urls: UrlsDep,
) -> DeliveryDetail:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    return _delivery(svc, owner, uid, delivery, urls)


@router.post(
    REPO + "/{uid}/deliveries/{delivery}/redeliver",
    response_model=DeliveryRead,
    summary="Redeliver one delivery (appdock)",
)
def redeliver_repo_hook_delivery(
    workspace: str,
    repo_slug: str,
    uid: str,
    delivery: str,
    grant: HookRead,
    svc: Svc,
    urls: UrlsDep,
) -> DeliveryRead:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    return _redeliver(svc, owner, uid, delivery, urls)


@router.post(
    REPO + "/{uid}/redeliver",
    response_model=RedeliverResult,
    summary="Redeliver every failed delivery since a time (appdock)",
)
def redeliver_repo_hook_failed(
    workspace: str, repo_slug: str, uid: str, grant: HookSince, svc: Svc
) -> RedeliverResult:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    sub = svc.get(owner, uid)
    return RedeliverResult(count=svc.redeliver_failed_since([sub.id], grant.body.since))


@router.post(
    REPO + "/{uid}/test",
    response_model=DeliveryRead,
    status_code=202,
    summary="Send a test event (appdock)",
)
def send_test_to_repo_hook(
    workspace: str,
    repo_slug: str,
    uid: str,
    grant: HookRead,
    svc: Svc,
    urls: UrlsDep,
    event: Annotated[str | None, Query()] = None,
) -> Response:
    owner = svc.repository_owner(grant.subject, workspace, repo_slug)
    return _test(svc, owner, uid, event, urls)


# ---- workspace hooks --------------------------------------------------------------------------
@router.get(WS, response_model=Paginated[WebhookRead], summary="Webhooks of a workspace")
def list_workspace_hooks(
    workspace: str, grant: HookRead, svc: Svc, urls: UrlsDep, page: PageDep
) -> Paginated[WebhookRead]:
    return _list(svc, svc.workspace_owner(grant.subject, workspace), urls, page)


@router.post(WS, response_model=WebhookRead, status_code=201, summary="Create a workspace webhook")
def create_workspace_hook(workspace: str, grant: HookCreate, svc: Svc, urls: UrlsDep) -> Response:
    return _create(svc, svc.workspace_owner(grant.subject, workspace), grant, urls)


@router.get(WS + "/{uid}", response_model=WebhookRead, summary="A workspace webhook")
def get_workspace_hook(
    workspace: str, uid: str, grant: HookRead, svc: Svc, urls: UrlsDep
) -> WebhookRead:
    owner = svc.workspace_owner(grant.subject, workspace)
    return _read(svc, owner, svc.get(owner, uid), urls)


@router.put(WS + "/{uid}", response_model=WebhookRead, summary="Update a workspace webhook")
def update_workspace_hook(
    workspace: str, uid: str, grant: HookUpdate, svc: Svc, urls: UrlsDep
) -> WebhookRead:
    return _update(svc, svc.workspace_owner(grant.subject, workspace), uid, grant, urls)


@router.delete(WS + "/{uid}", status_code=204, summary="Delete a workspace webhook")
def delete_workspace_hook(workspace: str, uid: str, grant: HookRead, svc: Svc) -> Response:
    owner = svc.workspace_owner(grant.subject, workspace)
    svc.delete(svc.get(owner, uid))
    return Response(status_code=204)


@router.get(
    WS + "/{uid}/deliveries",
    response_model=Paginated[DeliveryRead],
    summary="Deliveries of a workspace webhook (appdock)",
)
def list_workspace_hook_deliveries(
    workspace: str,
    uid: str,
    grant: HookRead,
    svc: Svc,
    urls: UrlsDep,
    page: PageDep,
    status: Annotated[str | None, Query()] = None,
) -> Paginated[DeliveryRead]:
    owner = svc.workspace_owner(grant.subject, workspace)
    return _deliveries(svc, owner, uid, urls, page, status)


@router.get(
    WS + "/{uid}/deliveries/{delivery}",
    response_model=DeliveryDetail,
    summary="A workspace webhook delivery with its attempts (appdock)",
)
def get_workspace_hook_delivery(
    workspace: str, uid: str, delivery: str, grant: HookRead, svc: Svc, urls: UrlsDep
) -> DeliveryDetail:
    owner = svc.workspace_owner(grant.subject, workspace)
    return _delivery(svc, owner, uid, delivery, urls)


@router.post(
    WS + "/{uid}/deliveries/{delivery}/redeliver",
    response_model=DeliveryRead,
    summary="Redeliver one workspace webhook delivery (appdock)",
)
def redeliver_workspace_hook_delivery(
    workspace: str, uid: str, delivery: str, grant: HookRead, svc: Svc, urls: UrlsDep
) -> DeliveryRead:
    owner = svc.workspace_owner(grant.subject, workspace)
    return _redeliver(svc, owner, uid, delivery, urls)


@router.post(
    WS + "/{uid}/redeliver",
    response_model=RedeliverResult,
    summary="Redeliver every failed workspace webhook delivery since a time (appdock)",
)
def redeliver_workspace_hook_failed(
    workspace: str, uid: str, grant: HookSince, svc: Svc
) -> RedeliverResult:
    owner = svc.workspace_owner(grant.subject, workspace)
    sub = svc.get(owner, uid)
    return RedeliverResult(count=svc.redeliver_failed_since([sub.id], grant.body.since))


@router.post(
    WS + "/{uid}/test",
    response_model=DeliveryRead,
    status_code=202,
    summary="Send a test event to a workspace webhook (appdock)",
)
def send_test_to_workspace_hook(
    workspace: str,
    uid: str,
    grant: HookRead,
    svc: Svc,
    urls: UrlsDep,
    event: Annotated[str | None, Query()] = None,
) -> Response:
    owner = svc.workspace_owner(grant.subject, workspace)
    return _test(svc, owner, uid, event, urls)
