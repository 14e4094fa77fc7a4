"""Webhook shapes: Bitbucket's ``webhook_subscription`` and ``hook_event``, and appdock's delivery
log (``webhook_delivery`` with its attempts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.models import (
    Repository,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    Workspace,
)
from appdock.webhook.catalogue import HookEvent


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(min_length=1, max_length=2048)
    description: str = Field(default="", max_length=255)
    active: bool = True
    events: list[str] = Field(min_length=1)
    secret: str | None = Field(default=None, max_length=128)
    skip_cert_verification: bool = False


class WebhookUpdate(BaseModel):
    """Fields left out stay as they are; ``secret`` null or "" removes the secret."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=255)
    active: bool | None = None
    events: list[str] | None = Field(default=None, min_length=1)
    secret: str | None = Field(default=None, max_length=128)
    skip_cert_verification: bool | None = None


class WebhookRead(BaseModel):
    type: str = "webhook_subscription"
    uuid: str
    url: str
    description: str
    subject_type: str
    subject: dict[str, Any]
    active: bool
    created_at: str | None
    events: list[str]
    secret_set: bool
    skip_cert_verification: bool = False
    disabled_reason: str | None = None
    failing_since: str | None = None
    last_success_at: str | None = None
    links: dict[str, dict[str, str]]


class HookEventRead(BaseModel):
    event: str
    category: str
    label: str
    description: str


class SubjectTypesRead(BaseModel):
    repository: dict[str, dict[str, str]]
    workspace: dict[str, dict[str, str]]


class AttemptRead(BaseModel):
    type: str = "webhook_attempt"
    number: int
    started_at: str | None
    duration_ms: float
    url: str
    outcome: str
    request_headers: dict[str, str]
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    error: str | None


class DeliveryRead(BaseModel):
    type: str = "webhook_delivery"
    uuid: str
    event: str
    status: str
    is_test: bool
    attempts: int
    created_at: str | None
    next_attempt_at: str | None
    finished_at: str | None
    last_status: int | None
    last_error: str | None
    hook: dict[str, str]
    links: dict[str, dict[str, str]]


class DeliveryDetail(DeliveryRead):
    request_body: str | None
    attempt_log: list[AttemptRead]


class RedeliverSince(BaseModel):
    since: datetime


class RedeliverResult(BaseModel):
    type: str = "webhook_redelivery"
    count: int


def subject_of(
    sub: WebhookSubscription, workspace: Workspace, repository: Repository | None, urls: Urls
) -> tuple[str, dict[str, Any]]:
    if repository is not None:
        full = f"{workspace.slug}/{repository.slug}"
        return "repository", {
            "type": "repository",
            "full_name": full,
            "name": repository.name,
            "uuid": repository.uuid,
            "links": {
                "self": {"href": urls.api("repositories", workspace.slug, repository.slug)},
                "html": {"href": urls.html(workspace.slug, repository.slug)},
            },
        }
    return "workspace", {
        "type": "workspace",
        "slug": workspace.slug,
        "name": workspace.name,
        "uuid": workspace.uuid,
        "links": {
            "self": {"href": urls.api("workspaces", workspace.slug)},
            "html": {"href": urls.html(workspace.slug)},
        },
    }


def hook_self_url(
    workspace: Workspace, repository: Repository | None, uuid: str, urls: Urls
) -> str:
    if repository is not None:
        return urls.api("repositories", workspace.slug, repository.slug, "hooks", uuid)
    return urls.api("workspaces", workspace.slug, "hooks", uuid)


def webhook_read(
    sub: WebhookSubscription, workspace: Workspace, repository: Repository | None, urls: Urls
) -> WebhookRead:
    subject_type, subject = subject_of(sub, workspace, repository, urls)
    return WebhookRead(
        uuid=sub.uuid,
        url=sub.url,
        description=sub.description,
        subject_type=subject_type,
        subject=subject,
        active=sub.active,
        created_at=isoformat(sub.created_at),
        events=sorted(sub.events),
        secret_set=bool(sub.secret),
        disabled_reason=sub.disabled_reason,
        failing_since=isoformat(sub.failing_since),
        last_success_at=isoformat(sub.last_success_at),
        links={"self": {"href": hook_self_url(workspace, repository, sub.uuid, urls)}},
    )


def hook_event_read(event: HookEvent) -> HookEventRead:
    return HookEventRead(
        event=event.event, category=event.category, label=event.label, description=event.description
    )


def attempt_read(row: WebhookAttempt) -> AttemptRead:
    return AttemptRead(
        number=row.number,
        started_at=isoformat(row.started_at),
        duration_ms=row.duration_ms,
        url=row.url,
        outcome=row.outcome,
        request_headers=dict(row.request_headers or {}),
        response_status=row.response_status,
        response_headers=dict(row.response_headers) if row.response_headers is not None else None,
        response_body=row.response_body,
        error=row.error,
    )


def delivery_read(row: WebhookDelivery, sub: WebhookSubscription, self_url: str) -> DeliveryRead:
    return DeliveryRead(
        uuid=row.uuid,
        event=row.event_key,
        status=row.status,
        is_test=row.is_test,
        attempts=row.attempts,
        created_at=isoformat(row.created_at),
        next_attempt_at=isoformat(row.next_attempt_at) if row.status == "pending" else None,
        finished_at=isoformat(row.finished_at),
        last_status=row.last_status,
        last_error=row.last_error,
        hook={"uuid": sub.uuid, "url": sub.url},
        links={"self": {"href": self_url}},
    )


def delivery_detail(
    row: WebhookDelivery,
    sub: WebhookSubscription,
    self_url: str,
    attempts: list[WebhookAttempt],
    request_body: str | None,
) -> DeliveryDetail:
    base = delivery_read(row, sub, self_url)
    return DeliveryDetail(
        **base.model_dump(),
        request_body=request_body,
        attempt_log=[attempt_read(a) for a in attempts],
    )
