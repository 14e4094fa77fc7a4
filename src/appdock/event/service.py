"""Publishing domain events into the outbox, in the caller's transaction.

Invariants:
- :func:`publish` only adds and flushes a row; the caller's unit of work commits it together with
  the change it describes, or rolls both back.
- The payload is built once, by the publishing domain, in Bitbucket's webhook shape (the ``data``
  part of a Connect delivery: ``{"actor", "repository", "push" | "pullrequest" | ...}``).
- Subscribers run synchronously inside :func:`publish`, with the same session, so whatever they
  write (webhook delivery rows) shares the transaction. A subscriber that raises aborts the
  change: subscribers must only write rows, never call the network.

    >>> def fan_out(session: Session, event: Event) -> None:
    ...     session.add(Delivery(event_id=event.id, ...))
    >>> subscribe(fan_out)
    >>> publish(session, EventKey.REPO_PUSH, workspace_id=ws.id, repository_id=repo.id,
    ...         actor_user_id=user.id, payload={"actor": ..., "repository": ..., "push": ...})
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from appdock.event.store import EventStore
from appdock.models import Event


class EventKey(StrEnum):
    """Every event key the host publishes (Bitbucket's webhook event keys)."""

    REPO_PUSH = "repo:push"
    REPO_CREATED = "repo:created"
    REPO_UPDATED = "repo:updated"
    REPO_DELETED = "repo:deleted"
    REPO_FORK = "repo:fork"
    REPO_COMMIT_STATUS_CREATED = "repo:commit_status_created"
    REPO_COMMIT_STATUS_UPDATED = "repo:commit_status_updated"
    PULLREQUEST_CREATED = "pullrequest:created"
    PULLREQUEST_UPDATED = "pullrequest:updated"
    PULLREQUEST_APPROVED = "pullrequest:approved"
    PULLREQUEST_UNAPPROVED = "pullrequest:unapproved"
    PULLREQUEST_CHANGES_REQUEST_CREATED = "pullrequest:changes_request_created"
    PULLREQUEST_CHANGES_REQUEST_REMOVED = "pullrequest:changes_request_removed"
    PULLREQUEST_FULFILLED = "pullrequest:fulfilled"
    PULLREQUEST_REJECTED = "pullrequest:rejected"
    PULLREQUEST_COMMENT_CREATED = "pullrequest:comment_created"
    PULLREQUEST_COMMENT_UPDATED = "pullrequest:comment_updated"
    PULLREQUEST_COMMENT_DELETED = "pullrequest:comment_deleted"
    ISSUE_CREATED = "issue:created"
    ISSUE_UPDATED = "issue:updated"
    ISSUE_COMMENT_CREATED = "issue:comment_created"


Subscriber = Callable[[Session, Event], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    """Register ``fn(session, event_row)`` to run inside every :func:`publish` (idempotent).

    Usable as a decorator; returns ``fn``.
    """
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


def subscribers() -> tuple[Subscriber, ...]:
    return tuple(_subscribers)


def publish(
    session: Session,
    key: str,
    *,
    workspace_id: int,
    repository_id: int | None = None,
    actor_user_id: int | None = None,
    payload: dict[str, Any],
    uuid: str | None = None,
) -> Event:
    """Add the event row (flushed, not committed) and hand it to every subscriber.

    ``uuid`` lets a replayed source (a spooled push) keep the event's identity; a second publish
    with the same uuid fails on the unique key, so replays must check :func:`exists` first.
    """
    event = Event(
        key=str(key),
        workspace_id=workspace_id,
        repository_id=repository_id,
        actor_user_id=actor_user_id,
        payload=payload,
    )
    if uuid is not None:
        event.uuid = uuid
    EventStore(session).add(event)
    for fn in tuple(_subscribers):
        fn(session, event)
    return event


def exists(session: Session, uuid: str) -> bool:
    return EventStore(session).by_uuid(uuid) is not None
