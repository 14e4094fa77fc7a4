"""Webhook rules: who manages which webhooks, creating and changing them (and their routes), the
delivery log, redelivery and test events. Flushes only; the caller commits.

Repository webhooks are managed by the repository's admins, workspace webhooks by the workspace's
admins (and by a team installation acting as that workspace, with the ``webhook`` scope). The
delivery log of an installation is shown to the admins of the account it is installed on.

    >>> svc = WebhookService(session, settings)
    >>> owner = svc.repository_owner(subject, "acme", "widget")
    >>> hook = svc.create(owner, subject, url="https://ci.example.com/hook", events=["repo:push"])
    >>> svc.send_test(hook)                # a test delivery, sent by the worker
    >>> svc.redeliver_failed_since([hook.id], since)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.config import Settings
from appdock.core import crypto
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.models import (
    Repository,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    Workspace,
)
from appdock.models.base import new_uuid
from appdock.repo.service import Permission, RepoService
from appdock.webhook import fanout
from appdock.webhook.catalogue import EVENT_KEYS
from appdock.webhook.client import address_refusal
from appdock.webhook.signing import Target, encode_body
from appdock.webhook.store import WebhookStore

SECRET_MAX = 128


@dataclass(frozen=True)
class HookOwner:
    """The repository or workspace whose webhooks are being managed."""

    workspace: Workspace
    repository: Repository | None = None

    @property
    def kind(self) -> str:
        return "repository" if self.repository is not None else "workspace"

    @property
    def name(self) -> str:
        if self.repository is not None:
            return f"{self.workspace.slug}/{self.repository.slug}"
        return self.workspace.slug


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    subscription: WebhookSubscription
    attempts: list[WebhookAttempt]
    request_body: str | None


def normalize_uuid(value: str) -> str:
    value = value.strip()
    if not value.startswith("{"):
        value = "{" + value + "}"
    return value.lower()


class WebhookService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.store = WebhookStore(session)
        self.urls = Urls(settings.base_url)

    # ---- owners --------------------------------------------------------------------------------
    def repository_owner(self, subject: AuthSubject, workspace: str, repo_slug: str) -> HookOwner:
        """A repository whose webhooks ``subject`` administers; 404 when hidden, 403 when the
        caller may read but not administer it."""
        repos = RepoService(self.session, self.settings)
        ctx = repos.get(workspace, repo_slug, subject, Permission.READ)
        if repos.permission_of(subject, ctx.repo) < Permission.ADMIN:
            raise Forbidden(
                f"only administrators of repository {ctx.full_name!r} can manage its webhooks"
            )
        return HookOwner(workspace=ctx.workspace, repository=ctx.repo)

    def workspace_owner(self, subject: AuthSubject, workspace: str) -> HookOwner:
        accounts = AccountService(self.session, self.settings.secret)
        ws = accounts.visible_workspace(workspace, subject)
        acting = subject.workspace_id is not None and subject.workspace_id == ws.id
        if not acting and not accounts.is_admin_of(ws, subject.user_id):
            raise Forbidden(f"only administrators of workspace {ws.slug!r} can manage its webhooks")
        return HookOwner(workspace=ws)

    def owner_of(self, sub: WebhookSubscription) -> HookOwner:
        ws = self.store.workspace_by_id(sub.workspace_id)
        if ws is None:
            raise NotFound("webhook not found")
        repo = None
        if sub.repository_id is not None:
            repo = self.store.repositories_by_ids([sub.repository_id]).get(sub.repository_id)
        return HookOwner(workspace=ws, repository=repo)

    # ---- subscriptions -------------------------------------------------------------------------
    def hooks(
        self, owner: HookOwner, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[WebhookSubscription], int]:
        if owner.repository is not None:
            return self.store.subscriptions(
                kind="repository", repository_id=owner.repository.id, offset=offset, limit=limit
            )
        return self.store.subscriptions(
            kind="workspace", workspace_id=owner.workspace.id, offset=offset, limit=limit
        )

    def get(self, owner: HookOwner, uid: str) -> WebhookSubscription:
        sub = self.store.subscription_by_uuid(normalize_uuid(uid))
        if sub is None or sub.kind != owner.kind or sub.workspace_id != owner.workspace.id:
            raise NotFound(f"webhook {uid} not found on {owner.name}")
        if owner.repository is not None and sub.repository_id != owner.repository.id:
            raise NotFound(f"webhook {uid} not found on {owner.name}")
        return sub

    def check_url(self, url: str, field: str = "url") -> str:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"{field}: {url!r} is not an http or https URL", field=field)
        host = parts.hostname
        policy = self.settings.allow_private_app_urls
        literal = host
        if host == "localhost" or host.endswith(".localhost"):
            literal = "127.0.0.1"
        try:
            ipaddress.ip_address(literal)
        except ValueError:
            return url  # a name: checked after DNS resolution at every delivery
        why = address_refusal(literal, policy)
        if why:
            raise BadRequest(
                f"{field}: {url} points at {why}; the operator has not allowed private URLs "
                "(APPDOCK_ALLOW_PRIVATE_APP_URLS)",
                field=field,
            )
        return url

    @staticmethod
    def check_events(events: Sequence[str], field: str = "events") -> list[str]:
        out: list[str] = []
        for event in events:
            key = event.strip()
            if key not in EVENT_KEYS:
                raise BadRequest(
                    f"{field}: {event!r} is not a webhook event (GET /2.0/hook_events lists them)",
                    field=field,
                )
            if key not in out:
                out.append(key)
        if not out:
            raise BadRequest(f"{field}: name at least one event", field=field)
        return out

    def create(
        self,
        owner: HookOwner,
        subject: AuthSubject,
        *,
        url: str,
        events: Sequence[str],
        description: str = "",
        active: bool = True,
        secret: str | None = None,
    ) -> WebhookSubscription:
        sub = WebhookSubscription(
            uuid=new_uuid(),
            kind=owner.kind,
            workspace_id=owner.workspace.id,
            repository_id=owner.repository.id if owner.repository else None,
            url=self.check_url(url),
            description=(description or "").strip()[:255],
            events=self.check_events(events),
            active=active,
            secret=self._secret(secret),
            created_by_user_id=subject.user_id,
        )
        self.store.add(sub)
        fanout.refresh_routes(self.session, sub)
        return sub

    def _secret(self, secret: str | None) -> str | None:
        if secret is None or secret == "":
            return None
        if len(secret) > SECRET_MAX:
            raise BadRequest(f"secret: at most {SECRET_MAX} characters", field="secret")
        return crypto.encrypt(self.settings.secret, secret)

    def update(
        self, owner: HookOwner, sub: WebhookSubscription, changes: dict[str, Any]
    ) -> WebhookSubscription:
        """Apply the fields present in ``changes`` (``secret``: None or "" removes it)."""
        if "url" in changes and changes["url"] is not None:
            sub.url = self.check_url(changes["url"])
        if "description" in changes and changes["description"] is not None:
            sub.description = str(changes["description"]).strip()[:255]
        if "events" in changes and changes["events"] is not None:
            sub.events = self.check_events(changes["events"])
        if "secret" in changes:
            sub.secret = self._secret(changes["secret"])
        if "active" in changes and changes["active"] is not None:
            sub.active = bool(changes["active"])
            if sub.active:
                sub.disabled_reason = None
                sub.failing_since = None
        sub.updated_at = utc_now()
        self.session.flush()
        fanout.refresh_routes(self.session, sub)
        return sub

    def delete(self, sub: WebhookSubscription) -> None:
        self.store.delete_subscription(sub)

    # ---- delivery log --------------------------------------------------------------------------
    def deliveries(
        self,
        subs: Sequence[WebhookSubscription],
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int = 25,
    ) -> tuple[list[WebhookDelivery], int]:
        if status is not None and status not in ("pending", "delivered", "failed"):
            raise BadRequest("status: one of pending, delivered, failed", field="status")
        return self.store.deliveries(
            [s.id for s in subs], status=status, offset=offset, limit=limit
        )

    def delivery(self, subs: Sequence[WebhookSubscription], uuid: str) -> DeliveryView:
        by_id = {s.id: s for s in subs}
        row = self.store.delivery_by_uuid(normalize_uuid(uuid))
        if row is None or row.subscription_id not in by_id:
            raise NotFound(f"delivery {uuid} not found")
        sub = by_id[row.subscription_id]
        return DeliveryView(
            delivery=row,
            subscription=sub,
            attempts=self.store.attempts_of(row.id),
            request_body=self.request_body(row, sub),
        )

    def request_body(self, row: WebhookDelivery, sub: WebhookSubscription) -> str | None:
        """The exact body the worker sends for this delivery (rebuilt, not stored twice)."""
        payload = (
            row.test_payload
            if row.is_test
            else (self.store.event_payload(row.event_id) if row.event_id is not None else None)
        )
        if payload is None:
            return None
        target = Target(subscription_uuid=sub.uuid, url=sub.url, kind=sub.kind)
        return encode_body(target, row.event_key, payload).decode("utf-8")

    def redeliver(self, subs: Sequence[WebhookSubscription], uuid: str) -> WebhookDelivery:
        """Send a finished delivery again: same uuid (``webhook-id``), a new attempt."""
        view = self.delivery(subs, uuid)
        row = view.delivery
        if row.status == "pending":
            raise BadRequest(f"delivery {row.uuid} is still queued; it will be sent")
        self.store.requeue([row.id], utc_now())
        self.session.refresh(row)
        fanout.announce(self.session)
        return row

    def redeliver_failed_since(
        self, sub_ids: Sequence[int] | None, since: datetime, *, batch: int = 500
    ) -> int:
        """Requeue every failed delivery created since ``since`` (of ``sub_ids``, or all)."""
        total = 0
        after = 0
        while True:
            ids = self.store.failed_since(sub_ids, since, after_id=after, limit=batch)
            if not ids:
                break
            total += self.store.requeue(ids, utc_now())
            after = ids[-1]
        if total:
            fanout.announce(self.session)
        return total

    def redeliver_failed_page(
        self, sub_ids: Sequence[int] | None, since: datetime, *, after_id: int, limit: int = 500
    ) -> tuple[int, int | None]:
        """One keyset page of :meth:`redeliver_failed_since` (for callers that commit per page
        and show progress): returns (requeued, last id seen or None when done)."""
        ids = self.store.failed_since(sub_ids, since, after_id=after_id, limit=limit)
        if not ids:
            return 0, None
        count = self.store.requeue(ids, utc_now())
        fanout.announce(self.session)
        return count, ids[-1]

    def count_failed_since(self, sub_ids: Sequence[int] | None, since: datetime) -> int:
        return self.store.count_failed_since(sub_ids, since)

    def subscription_ids(
        self, *, hook_uuid: str | None = None, installation_id: int | None = None
    ) -> list[int] | None:
        """The subscriptions a CLI selection names (None: all of them)."""
        if hook_uuid:
            sub = self.store.subscription_by_uuid(normalize_uuid(hook_uuid))
            if sub is None:
                raise NotFound(f"no webhook {hook_uuid}")
            return [sub.id]
        if installation_id is not None:
            subs = self.store.subscriptions_of_installation(installation_id)
            if not subs:
                raise NotFound(f"installation {installation_id} has no webhook subscriptions")
            return [s.id for s in subs]
        return None

    def send_test(
        self,
        sub: WebhookSubscription,
        event: str | None = None,
        actor: dict[str, Any] | None = None,
    ) -> WebhookDelivery:
        """Queue a test delivery (sent even when the subscription is disabled; one attempt; a
        success re-enables a subscription that was disabled for failing)."""
        key = event or (sub.events[0] if sub.events and sub.events[0] != "*" else "repo:push")
        if key not in EVENT_KEYS:
            raise BadRequest(f"event: {key!r} is not a webhook event", field="event")
        owner = self.owner_of(sub)
        payload = self.test_payload(owner, key, actor)
        now = utc_now()
        row = WebhookDelivery(
            uuid=new_uuid(),
            subscription_id=sub.id,
            event_id=None,
            event_key=key,
            event_time=now,
            is_test=True,
            test_payload=payload,
            status="pending",
            attempts=0,
            retries=0,
            next_attempt_at=now,
            created_at=now,
        )
        self.store.add(row)
        fanout.announce(self.session)
        return row

    def test_payload(
        self, owner: HookOwner, key: str, actor: dict[str, Any] | None
    ) -> dict[str, Any]:
        ws = owner.workspace
        payload: dict[str, Any] = {
            "test": True,
            "description": f"A test {key} event sent from appdock",
            "actor": actor or {"type": "user", "display_name": "appdock", "uuid": None},
        }
        if owner.repository is not None:
            repo = owner.repository
            payload["repository"] = {
                "type": "repository",
                "full_name": f"{ws.slug}/{repo.slug}",
                "name": repo.name,
                "uuid": repo.uuid,
                "is_private": repo.is_private,
                "links": {"html": {"href": self.urls.html(ws.slug, repo.slug)}},
                "workspace": {"type": "workspace", "slug": ws.slug, "uuid": ws.uuid},
            }
        else:
            payload["workspace"] = {"type": "workspace", "slug": ws.slug, "uuid": ws.uuid}
        return payload

    def queue_counts(self, subs: Sequence[WebhookSubscription]) -> dict[str, int]:
        return self.store.queue_counts([s.id for s in subs])
