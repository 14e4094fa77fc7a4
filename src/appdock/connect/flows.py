"""Install and uninstall as the request (or CLI command) runs them. This is a boundary module, on
the level of routes and views: it commits, because the app must be called with no transaction
open (the app may call the REST API back while it handles its ``installed`` callback, and on
SQLite an open transaction holds the write lock).

    fetched = fetch_descriptor(settings, url)          # network only
    outcome = install(db, settings, urls, fetched=fetched, workspace_id=ws.id, user_id=user.id)

``install`` commits the attempt, calls the app, then commits the installation (2xx) or removes
the attempt and raises :class:`~appdock.core.errors.UpstreamError` carrying the app's status and
the start of its answer (``exc.data``). Nothing half-made remains either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.connect import lifecycle
from appdock.connect.descriptor import (
    Descriptor,
    DescriptorError,
    Problem,
    lint_descriptor,
)
from appdock.connect.service import ConnectService
from appdock.core.errors import BadRequest, UpstreamError
from appdock.core.http import OutboundClient, OutboundError
from appdock.core.urls import Urls
from appdock.models import Installation

log = logging.getLogger("appdock.connect")

DESCRIPTOR_TIMEOUT = 10.0
DESCRIPTOR_MAX_BYTES = 512 * 1024


def outbound(settings: Settings, *, timeout: float | None = None) -> OutboundClient:
    return OutboundClient(
        settings.allow_private_app_urls,
        timeout=DESCRIPTOR_TIMEOUT if timeout is None else timeout,
        max_bytes=DESCRIPTOR_MAX_BYTES,
    )


@dataclass(frozen=True)
class FetchedDescriptor:
    url: str
    raw: dict[str, Any]
    descriptor: Descriptor
    warnings: list[Problem] = field(default_factory=list)


def check_descriptor(
    settings: Settings, data: Any, *, url: str | None, field: str = "descriptor"
) -> FetchedDescriptor:
    """Lint parsed descriptor JSON; errors become a DescriptorError (400) naming every path."""
    result = lint_descriptor(data, require_https=not settings.allow_http_app_urls)
    if result.descriptor is None:
        raise DescriptorError(result.errors, field=field)
    return FetchedDescriptor(
        url=url or "", raw=data, descriptor=result.descriptor, warnings=result.warnings
    )


def fetch_descriptor(settings: Settings, url: str, *, field: str = "url") -> FetchedDescriptor:
    """GET and lint a descriptor. Touches no database: commit before calling it."""
    url = (url or "").strip()
    if not url:
        raise BadRequest(f"{field}: a descriptor URL is required", field=field)
    with outbound(settings) as client:
        try:
            _final, data = client.fetch_json(url, purpose="descriptor URL")
        except OutboundError as exc:
            raise BadRequest(exc.message, field=field) from exc
    return check_descriptor(settings, data, url=url, field=field)


@dataclass(frozen=True)
class InstallOutcome:
    installation_id: int
    app_key: str
    app_name: str
    client_key: str
    workspace_slug: str
    reinstall: bool
    redirect_url: str | None


def install(
    db: Session,
    settings: Settings,
    urls: Urls,
    *,
    fetched: FetchedDescriptor,
    workspace_id: int,
    user_id: int,
    redirect_uri: str | None = None,
) -> InstallOutcome:
    """Run the install: attempt, ``installed`` callback, installation. Commits (see module)."""
    svc = ConnectService(db, settings.secret, urls)
    ws = svc.accounts.store.workspace_by_id(workspace_id)
    if ws is None:
        raise BadRequest("the target account no longer exists")
    plan = svc.begin_install(
        fetched.descriptor,
        fetched.raw,
        descriptor_url=fetched.url or None,
        workspace=ws,
        user_id=user_id,
    )
    db.commit()
    failure: UpstreamError | None = None
    if plan.callback_url:
        try:
            with outbound(settings, timeout=lifecycle.CALLBACK_TIMEOUT) as client:
                response = lifecycle.send(
                    client,
                    url=plan.callback_url,
                    body=plan.body,
                    client_key=plan.client_key,
                    sign_secret=plan.sign_secret if fetched.descriptor.uses_jwt else None,
                    app_base_url=plan.app_base_url,
                )
            if not response.ok:
                snippet = response.snippet(300)
                failure = UpstreamError(
                    f"{plan.app_name} refused the installation: its installed callback "
                    f"{plan.callback_url} answered HTTP {response.status}"
                    + (f": {snippet}" if snippet else " with an empty body"),
                    data={"status": response.status, "response": snippet},
                )
        except OutboundError as exc:
            failure = UpstreamError(
                f"{plan.app_name} could not be installed: {exc.message}",
                data={"status": None, "response": exc.message},
            )
    if failure is not None:
        svc.abandon_install(plan)
        db.commit()
        log.info("install of %s on %s failed: %s", plan.app_key, plan.workspace_slug, failure)
        raise failure
    inst = svc.finish_install(plan)
    db.commit()
    log.info(
        "%s %s on %s (clientKey %s)",
        "reinstalled" if plan.reinstall else "installed",
        plan.app_key,
        plan.workspace_slug,
        plan.client_key,
    )
    return InstallOutcome(
        installation_id=inst.id,
        app_key=plan.app_key,
        app_name=plan.app_name,
        client_key=plan.client_key,
        workspace_slug=plan.workspace_slug,
        reinstall=plan.reinstall,
        redirect_url=svc.post_install_redirect(plan, redirect_uri),
    )


@dataclass(frozen=True)
class UninstallOutcome:
    app_key: str
    app_name: str
    workspace_slug: str
    callback_status: int | None
    callback_error: str | None


def uninstall(db: Session, settings: Settings, urls: Urls, inst: Installation) -> UninstallOutcome:
    """Remove an installation, then tell the app (signed with the current secret). The
    installation is gone whatever the app answers; failures are logged and reported."""
    svc = ConnectService(db, settings.secret, urls)
    plan = svc.uninstall(inst)
    db.commit()
    status: int | None = None
    error: str | None = None
    if plan.callback_url:
        try:
            with outbound(settings, timeout=lifecycle.CALLBACK_TIMEOUT) as client:
                response = lifecycle.send(
                    client,
                    url=plan.callback_url,
                    body=plan.body,
                    client_key=plan.client_key,
                    sign_secret=plan.secret if plan.uses_jwt else None,
                    app_base_url=plan.app_base_url,
                )
            status = response.status
            if not response.ok:
                error = f"the app answered HTTP {response.status}"
        except OutboundError as exc:
            error = exc.message
    if error:
        log.warning(
            "uninstalled callback of %s on %s failed: %s", plan.app_key, plan.workspace_slug, error
        )
    return UninstallOutcome(
        app_key=plan.app_key,
        app_name=plan.app_name,
        workspace_slug=plan.workspace_slug,
        callback_status=status,
        callback_error=error,
    )
