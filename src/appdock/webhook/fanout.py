"""Fan-out: one delivery row per matching subscription, written inside the event's transaction;
and the routes that make finding those subscriptions an index lookup.

:func:`fan_out` is registered with :func:`appdock.event.service.subscribe` (see
``appdock.subscribers``), so it runs inside ``publish`` with the publisher's session: the event
and its deliveries commit or roll back together. It reads only the routes of this event's
repository, workspace and reachable users (:meth:`WebhookStore.matching_subscriptions`), so its
cost does not depend on how many installations exist on the host.

Connect installations become subscriptions through :func:`sync_connect_target`, fed a
:class:`ConnectTarget` (plain data from an installation row); :func:`remove_connect_target` drops
them, with their queued deliveries, when the app is uninstalled.

Who receives what:

- a repository webhook: events of that repository;
- a workspace webhook and a team installation: events of every repository of the workspace;
- a user installation: events of every repository that user can reach (public ones, and those of
  workspaces they belong to); when the same app is also installed on the repository's own
  account, that installation wins (one delivery per app, as on pages);
- a Connect entry only for events its granted scopes cover (:func:`catalogue.event_allowed`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from appdock.core import crypto
from appdock.core.db import on_commit
from appdock.core.scopes import Scope, closure, format_scopes, parse_scopes
from appdock.core.time import utc_now
from appdock.models import Event, WebhookSubscription
from appdock.models.base import new_uuid
from appdock.webhook.catalogue import WILDCARD, event_allowed
from appdock.webhook.store import SubscriptionMatch, WebhookStore

log = logging.getLogger("appdock.webhook")

NOTIFY_CHANNEL = "appdock_webhooks"
_TX_FLAG = "appdock_webhook_wake"

# ---- waking workers ----------------------------------------------------------------------------
_wakers: list[Callable[[], None]] = []
_wakers_lock = threading.Lock()


def add_waker(fn: Callable[[], None]) -> None:
    """Call ``fn`` (from any thread) whenever deliveries were committed in this process."""
    with _wakers_lock:
        _wakers.append(fn)


def remove_waker(fn: Callable[[], None]) -> None:
    with _wakers_lock:
        if fn in _wakers:
            _wakers.remove(fn)


def wake_local() -> None:
    with _wakers_lock:
        wakers = list(_wakers)
    for fn in wakers:
        try:
            fn()
        except Exception:  # a stopped worker's waker must not break a commit
            log.exception("waking a webhook worker failed")


def announce(session: Session) -> None:
    """Tell workers that deliveries are due once this transaction commits: in this process by a
    callback, in others by PostgreSQL ``NOTIFY`` (delivered at commit; SQLite workers poll)."""
    if session.info.get(_TX_FLAG):
        return
    session.info[_TX_FLAG] = True

    def done() -> None:
        session.info.pop(_TX_FLAG, None)
        wake_local()

    on_commit(session, done)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


# ---- the subscriber ---------------------------------------------------------------------------
def fan_out(session: Session, event: Event) -> None:
    """Write one pending delivery per active subscription routed to ``event``."""
    store = WebhookStore(session)
    subs = store.matching_subscriptions(
        event.key, workspace_id=event.workspace_id, repository_id=event.repository_id
    )
    if not subs:
        return
    chosen = _select(subs, event)
    if not chosen:
        return
    now = utc_now()
    event_time = event.created_at or now
    store.add_deliveries(
        [
            {
                "uuid": new_uuid(),
                "subscription_id": sub.id,
                "event_id": event.id,
                "event_key": event.key,
                "event_time": event_time,
                "is_test": False,
                "status": "pending",
                "attempts": 0,
                "retries": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for sub in chosen
        ]
    )
    announce(session)


def _select(subs: Sequence[SubscriptionMatch], event: Event) -> list[SubscriptionMatch]:
    out: list[SubscriptionMatch] = []
    owner_apps: set[str] = set()
    for sub in subs:
        if sub.kind == "connect":
            scopes = parse_scopes(sub.scopes or "")
            if not event_allowed(event.key, frozenset(scopes)):
                continue
            if sub.workspace_id == event.workspace_id and sub.app_key:
                owner_apps.add(sub.app_key)
        out.append(sub)
    return [
        sub
        for sub in out
        if not (
            sub.kind == "connect"
            and sub.app_key in owner_apps
            and sub.workspace_id != event.workspace_id
        )  # the repository's own account's installation of this app wins
    ]


# ---- routes of plain webhooks -----------------------------------------------------------------
def routes_for(
    sub: WebhookSubscription, owner_user_id: int | None = None
) -> list[tuple[str, int, str]]:
    """The routes a subscription should have (empty when inactive: it then receives nothing)."""
    if not sub.active:
        return []
    if sub.kind == "repository" and sub.repository_id is not None:
        return [("repository", sub.repository_id, e) for e in sub.events]
    if sub.kind == "workspace":
        return [("workspace", sub.workspace_id, e) for e in sub.events]
    if sub.kind == "connect":
        scopes = frozenset(parse_scopes(sub.scopes or ""))
        events = [e for e in sub.events if e == WILDCARD or event_allowed(e, scopes)]
        if owner_user_id is not None:
            return [("user", owner_user_id, e) for e in events]
        return [("workspace", sub.workspace_id, e) for e in events]
    return []


def refresh_routes(
    session: Session, sub: WebhookSubscription, owner_user_id: int | None = None
) -> None:
    WebhookStore(session).replace_routes(sub.id, routes_for(sub, owner_user_id))


# ---- Connect installations --------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookModule:
    """One entry of a descriptor's ``modules.webhooks``."""

    event: str
    url: str


@dataclass(frozen=True)
class ConnectTarget:
    """What webhook delivery needs to know about one installation (fed from its row).

    ``owner_user_id`` is set for an installation on a user's personal account (its reach is every
    repository that user can reach) and None for a team installation (the team's repositories).
    ``shared_secret`` is the plain secret (stored encrypted on the subscriptions), unless
    ``encrypted_secret`` carries it already encrypted with the instance key.
    """

    installation_id: int
    app_key: str
    client_key: str
    shared_secret: str
    base_url: str
    scopes: frozenset[Scope]
    workspace_id: int
    owner_user_id: int | None
    webhooks: tuple[WebhookModule, ...] = field(default_factory=tuple)
    encrypted_secret: str | None = None  # the secret as stored (core.crypto); wins when set


def webhook_modules(descriptor: dict[str, Any]) -> tuple[WebhookModule, ...]:
    """``modules.webhooks`` of a raw descriptor (a list, or one object), entries with an
    ``event`` and a ``url``; anything else is ignored (the descriptor lint reports it)."""
    modules = descriptor.get("modules") if isinstance(descriptor, dict) else None
    raw = modules.get("webhooks") if isinstance(modules, dict) else None
    if isinstance(raw, dict):
        raw = [raw]
    out: list[WebhookModule] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            event, url = item.get("event"), item.get("url")
            if isinstance(event, str) and isinstance(url, str) and event and url:
                out.append(WebhookModule(event.strip(), url.strip()))
    return tuple(out)


def resolve_url(base_url: str, url: str) -> str:
    if "://" in url:
        return url
    return base_url.rstrip("/") + "/" + url.lstrip("/")


def sync_connect_target(
    session: Session, secret_key: str, target: ConnectTarget
) -> list[WebhookSubscription]:
    """Make the installation's subscriptions and routes match ``target`` (idempotent): one
    subscription per distinct resolved URL, listing the events sent there. Subscriptions whose
    URL stays keep their uuid, health and delivery log."""
    store = WebhookStore(session)
    wanted: dict[str, list[str]] = {}
    for module in target.webhooks:
        events = wanted.setdefault(resolve_url(target.base_url, module.url), [])
        if module.event not in events:
            events.append(module.event)
    existing = {s.url: s for s in store.subscriptions_of_installation(target.installation_id)}
    scopes = format_scopes(closure(target.scopes))
    result: list[WebhookSubscription] = []
    for url, events in wanted.items():
        sub = existing.pop(url, None)
        if sub is None:
            sub = WebhookSubscription(
                kind="connect",
                workspace_id=target.workspace_id,
                installation_id=target.installation_id,
                url=url,
                events=events,
                active=True,
                description="",
            )
            session.add(sub)
        if target.encrypted_secret is not None:
            sub.secret = target.encrypted_secret
        elif not crypto_equal(secret_key, sub.secret, target.shared_secret):
            sub.secret = crypto.encrypt(secret_key, target.shared_secret)
        sub.workspace_id = target.workspace_id
        sub.app_key = target.app_key
        sub.client_key = target.client_key
        sub.base_url = target.base_url
        sub.scopes = scopes
        sub.events = events
        sub.description = f"{target.app_key} webhooks"[:255]
        session.flush()
        refresh_routes(session, sub, target.owner_user_id)
        result.append(sub)
    for gone in existing.values():
        store.delete_subscription(gone)
    return result


def crypto_equal(secret_key: str, encrypted: str | None, plain: str) -> bool:
    if not encrypted:
        return False
    try:
        return crypto.decrypt(secret_key, encrypted) == plain
    except ValueError:
        return False


def remove_connect_target(session: Session, installation_id: int) -> int:
    """Drop an uninstalled app's subscriptions and everything queued for them."""
    return WebhookStore(session).delete_subscriptions_of_installation(installation_id)
