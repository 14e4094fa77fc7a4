"""Keeping Connect installations' webhook subscriptions in step with the installation rows.

The app platform (``appdock.connect``) owns the ``installations`` table; this module never
imports it. :func:`watch_installations` is given the ORM class once (by the composition root,
``appdock.subscribers``) and listens to sessions: whenever an installation row is inserted,
changed (descriptor, scopes, secret, base URL) or deleted in a transaction, its subscriptions and
routes are rewritten (or removed, with everything queued for them) just before that transaction
commits, so an install and its webhooks commit together and an uninstalled app's queued
deliveries are never sent.

The shared secret is copied as stored (encrypted with the instance key by ``core.crypto``), so
no key is needed here.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from appdock.core.scopes import parse_scopes
from appdock.models import Workspace
from appdock.webhook.fanout import (
    ConnectTarget,
    remove_connect_target,
    sync_connect_target,
    webhook_modules,
)

_PENDING = "appdock_webhook_installations"
_WATCHED: list[type[Any]] = []


class InstallationLike(Protocol):
    id: int
    app_key: str
    client_key: str
    shared_secret: str  # encrypted at rest
    base_url: str
    scopes: str
    workspace_id: int
    descriptor: dict[str, Any]


def target_of(inst: InstallationLike, workspace: Workspace | None) -> ConnectTarget:
    """The :class:`ConnectTarget` of an installation row (a user installation when its account
    is a personal workspace)."""
    owner = None
    if workspace is not None and workspace.kind == "personal":
        owner = workspace.owner_user_id
    return ConnectTarget(
        installation_id=inst.id,
        app_key=inst.app_key,
        client_key=inst.client_key,
        shared_secret="",
        encrypted_secret=inst.shared_secret,
        base_url=inst.base_url,
        scopes=frozenset(parse_scopes(inst.scopes or "")),
        workspace_id=inst.workspace_id,
        owner_user_id=owner,
        webhooks=webhook_modules(inst.descriptor or {}),
    )


def watch_installations(model: type[Any]) -> None:
    """Sync subscriptions whenever rows of ``model`` change (idempotent)."""
    if model in _WATCHED:
        return
    _WATCHED.append(model)

    @event.listens_for(Session, "after_flush")
    def _collect(session: Session, _ctx: Any) -> None:
        pending: dict[int, bool] = session.info.setdefault(_PENDING, {})
        for obj in session.new:
            if isinstance(obj, model):
                pending[obj.id] = True
        for obj in session.dirty:
            if isinstance(obj, model) and session.is_modified(obj, include_collections=False):
                pending[obj.id] = True
        for obj in session.deleted:
            if isinstance(obj, model):
                pending[obj.id] = False

    @event.listens_for(Session, "before_commit")
    def _apply(session: Session) -> None:
        pending: dict[int, bool] = session.info.pop(_PENDING, {})
        for inst_id, alive in pending.items():
            inst = session.get(model, inst_id) if alive else None
            if inst is None:
                remove_connect_target(session, inst_id)
                continue
            workspace = session.get(Workspace, inst.workspace_id)
            sync_connect_target(session, "", target_of(inst, workspace))
        if pending:
            session.flush()
        session.info.pop(_PENDING, None)

    @event.listens_for(Session, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_PENDING, None)
