"""Typed factories for the webhook domain. Each commits, so workers and the app see the rows."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.scopes import parse_scopes
from appdock.core.subject import AuthSubject
from appdock.event.service import publish
from appdock.models import Event, Repository, User, WebhookSubscription, Workspace
from appdock.webhook import fanout
from appdock.webhook.service import HookOwner, WebhookService

_seq = itertools.count(1)


def make_repo(
    db: Session, ws: Workspace, slug: str | None = None, *, private: bool = True
) -> Repository:
    """A repository row (no git directory: webhook code never reads one)."""
    slug = slug or f"repo{next(_seq)}"
    repo = Repository(workspace_id=ws.id, slug=slug, name=slug, is_private=private)
    db.add(repo)
    db.commit()
    return repo


def make_hook(
    db: Session,
    settings: Settings,
    owner: Workspace | Repository,
    url: str,
    *,
    events: list[str] | None = None,
    secret: str | None = None,
    active: bool = True,
    user: User | None = None,
) -> WebhookSubscription:
    svc = WebhookService(db, settings)
    if isinstance(owner, Repository):
        ws = db.get(Workspace, owner.workspace_id)
        assert ws is not None
        hook_owner = HookOwner(workspace=ws, repository=owner)
    else:
        hook_owner = HookOwner(workspace=owner)
    subject = AuthSubject(kind="session", user_id=user.id if user else None)
    sub = svc.create(
        hook_owner,
        subject,
        url=url,
        events=events or ["repo:push"],
        secret=secret,
        active=active,
    )
    db.commit()
    return sub


def make_installation(
    db: Session,
    settings: Settings,
    ws: Workspace,
    base_url: str,
    *,
    webhooks: list[tuple[str, str]],
    scopes: str = "repository pullrequest",
    installation_id: int | None = None,
    app_key: str = "com.example.app",
    owner_user_id: int | None = None,
    shared_secret: str = "shared-secret-for-tests-" + "s" * 32,
) -> fanout.ConnectTarget:
    """A Connect installation's webhook subscriptions, fed through the ConnectTarget protocol."""
    target = fanout.ConnectTarget(
        installation_id=installation_id or next(_seq) + 1000,
        app_key=app_key,
        client_key=f"ari:cloud:bitbucket::app/{ws.uuid}/{app_key}",
        shared_secret=shared_secret,
        base_url=base_url,
        scopes=parse_scopes(scopes),
        workspace_id=ws.id,
        owner_user_id=owner_user_id,
        webhooks=tuple(fanout.WebhookModule(e, u) for e, u in webhooks),
    )
    fanout.sync_connect_target(db, settings.secret, target)
    db.commit()
    return target


def publish_event(
    db: Session,
    key: str,
    ws: Workspace,
    repo: Repository | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Publish a domain event (the fan-out subscriber writes the deliveries) and commit."""
    event = publish(
        db,
        key,
        workspace_id=ws.id,
        repository_id=repo.id if repo else None,
        payload=payload
        if payload is not None
        else {"repository": {"name": repo.slug if repo else ""}},
    )
    db.commit()
    return event
