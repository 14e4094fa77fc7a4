"""The second consent step: a user lets an installed app act for them from its iframes.

An account admin installs an app (first consent, ``connect.views``); each user who then meets
the app is asked once, on the "Grant access" page, whether the app may call the REST API *as
them* (``AP.request``, connect-spec §7.3). Bitbucket does this with the app's OAuth consumer
(``oauthConsumer`` module); we keep one :class:`~appdock.models.AppGrant` row per
(installation, user).

Rules:

* the scopes asked of the user are the ``oauthConsumer.scopes`` when the descriptor names them,
  else the installation's scopes; never more than the installation's closure;
* a user may grant only an installation that can serve them: one on their own account, or on a
  team account they can see;
* a request through the bridge acts as the viewer, limited to
  ``closure(granted) ∩ closure(installation scopes)`` (so what the viewer may do AND what the app
  may do); it is refused while no grant exists, and at once after it is revoked or the app is
  uninstalled (the row goes with the installation);
* when an app asks for more than a user granted (a descriptor update), the old grant keeps
  working within its scopes and the user is asked again.

    >>> svc = GrantService(session, secret_key)
    >>> svc.grant(client_key, user_id=viewer.id)        # the Grant access form
    >>> svc.request_scopes(app_key=..., client_key=..., user_id=viewer.id)  # each AP.request
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.connect.service import granted_scopes
from appdock.connect.ui.store import GrantStore
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.scopes import Scope, UnknownScope, closure, format_scopes, parse_scopes
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import local_path
from appdock.models import AppGrant, Installation, Workspace

APP_KEY_HEADER = "x-appdock-app-key"
CLIENT_KEY_HEADER = "x-appdock-client-key"
GRANT_PATH = "/site/connect/grant"
AUTHORIZATIONS_PATH = "/account/settings/app-authorizations"


def minimal(scopes: frozenset[Scope]) -> frozenset[Scope]:
    """Drop scopes another one in the set implies (what a person needs to read)."""
    return frozenset(s for s in scopes if not any(s in closure({t}) - {t} for t in scopes))


def _consumer(inst: Installation) -> dict[str, Any] | None:
    modules = inst.descriptor.get("modules")
    consumer = modules.get("oauthConsumer") if isinstance(modules, dict) else None
    if isinstance(consumer, list) and consumer:  # some apps send a one-element list
        consumer = consumer[0]
    return consumer if isinstance(consumer, dict) else None


def requested_user_scopes(inst: Installation) -> frozenset[Scope]:
    """What the app asks to do as a user: its ``oauthConsumer.scopes`` if declared, else the
    installation's scopes; cut down to the installation's closure, minimal form."""
    installed = closure(granted_scopes(inst))
    consumer = _consumer(inst)
    declared = consumer.get("scopes") if consumer else None
    wanted = granted_scopes(inst)
    if isinstance(declared, list):
        try:
            wanted = parse_scopes([str(s) for s in declared])
        except UnknownScope:  # validated at install; an odd stored descriptor asks for nothing
            wanted = frozenset()
    return minimal(closure(wanted) & installed)


def granted_by(grant: AppGrant) -> frozenset[Scope]:
    """The scopes a user accepted (an unreadable row grants nothing)."""
    try:
        return parse_scopes(grant.scopes)
    except UnknownScope:
        return frozenset()


def missing(requested: frozenset[Scope], granted: frozenset[Scope]) -> frozenset[Scope]:
    """Requested scopes a grant does not cover, minimal form."""
    return minimal(closure(requested) - closure(granted))


def grant_url(client_key: str, next_url: str | None = None) -> str:
    query = {"client_key": client_key}
    if next_url:
        query["next"] = next_url
    return GRANT_PATH + "?" + urlencode(query)


def safe_next(value: str | None) -> str:
    """A local path to return to after the Grant access page; anything else → the list."""
    return local_path(value, AUTHORIZATIONS_PATH)


@dataclass(frozen=True)
class AppAccess:
    """An installation as one user sees it: what it asks, what they granted (plain data)."""

    installation_id: int
    client_key: str
    app_key: str
    app_name: str
    description: str
    vendor_name: str
    base_url: str
    account_slug: str
    account_name: str
    account_kind: str
    requested: frozenset[Scope]
    installation_scopes: frozenset[Scope]
    asks_eagerly: bool  # declares an oauthConsumer: prompt as soon as the app is shown
    grant_id: int | None
    granted: frozenset[Scope] | None
    granted_at: datetime | None

    @property
    def needs_consent(self) -> bool:
        """No grant yet, or the app now asks for more than was granted."""
        return self.granted is None or bool(self.added)

    @property
    def added(self) -> frozenset[Scope]:
        """Requested scopes the grant does not cover."""
        if self.granted is None:
            return self.requested
        return missing(self.requested, self.granted)

    @property
    def effective(self) -> frozenset[Scope]:
        """The closure an ``AP.request`` acts with (empty without a grant)."""
        if self.granted is None:
            return frozenset()
        return closure(self.granted) & closure(self.installation_scopes)


class GrantService:
    def __init__(self, session: Session, secret_key: str) -> None:
        self.session = session
        self.store = GrantStore(session)
        self.accounts = AccountService(session, secret_key)

    # what a user may see ---------------------------------------------------------------------
    def _may_use(self, ws: Workspace, user_id: int) -> bool:
        if ws.kind == "personal":
            return ws.owner_user_id == user_id
        viewer = AuthSubject(kind="session", user_id=user_id)
        return self.accounts.can_see_workspace(ws, viewer)

    def _usable(self, client_key: str, user_id: int) -> tuple[Installation, Workspace]:
        inst = self.store.installation_by_client_key(client_key) if client_key else None
        ws = self.store.workspace_by_id(inst.workspace_id) if inst else None
        if inst is None or ws is None or not self._may_use(ws, user_id):
            # Same answer for "absent" and "not yours": installations do not leak.
            raise NotFound(f"no installed app {client_key!r} serves you")
        return inst, ws

    def _access(self, inst: Installation, ws: Workspace, grant: AppGrant | None) -> AppAccess:
        raw = inst.descriptor
        vendor = raw.get("vendor") if isinstance(raw.get("vendor"), dict) else None
        description = raw.get("description")
        return AppAccess(
            installation_id=inst.id,
            client_key=inst.client_key,
            app_key=inst.app_key,
            app_name=inst.name,
            description=description if isinstance(description, str) else "",
            vendor_name=str((vendor or {}).get("name") or ""),
            base_url=inst.base_url,
            account_slug=ws.slug,
            account_name=ws.name,
            account_kind=ws.kind,
            requested=requested_user_scopes(inst),
            installation_scopes=granted_scopes(inst),
            asks_eagerly=_consumer(inst) is not None,
            grant_id=grant.id if grant else None,
            granted=granted_by(grant) if grant is not None else None,
            granted_at=grant.created_at if grant else None,
        )

    def installation_for(self, client_key: str, user_id: int) -> Installation:
        """The installation ``client_key`` when it can serve ``user_id``; NotFound otherwise."""
        return self._usable(client_key, user_id)[0]

    def access(self, client_key: str, user_id: int) -> AppAccess:
        """The installation ``client_key`` as ``user_id`` sees it; NotFound unless it can serve
        them."""
        inst, ws = self._usable(client_key, user_id)
        return self._access(inst, ws, self.store.grant_for(inst.id, user_id))

    # changes -----------------------------------------------------------------------------------
    def grant(self, client_key: str, user_id: int) -> AppAccess:
        """Record (or widen to what the app asks now) the user's grant. Flushes."""
        inst, ws = self._usable(client_key, user_id)
        scopes = format_scopes(requested_user_scopes(inst))
        grant = self.store.grant_for(inst.id, user_id)
        if grant is None:
            grant = AppGrant(installation_id=inst.id, user_id=user_id, scopes=scopes)
            self.store.add(grant)
        else:
            grant.scopes = scopes
            grant.updated_at = utc_now()
            self.session.flush()
        return self._access(inst, ws, grant)

    def revoke(self, grant_id: int, user_id: int) -> str:
        """Delete one of the user's own grants; returns the app's name. NotFound otherwise."""
        grant = self.store.grant_of_user(grant_id, user_id)
        if grant is None:
            raise NotFound(f"you have no app authorization {grant_id}")
        inst = self.session.get(Installation, grant.installation_id)
        name = inst.name if inst else "The app"
        self.store.delete(grant)
        return name

    def authorizations(self, user_id: int) -> list[AppAccess]:
        return [self._access(i, w, g) for g, i, w in self.store.grants_of_user(user_id)]

    # the bridge --------------------------------------------------------------------------------
    def request_scopes(self, *, app_key: str, client_key: str, user_id: int) -> AppAccess:
        """Check an ``AP.request`` from an iframe of ``app_key``'s installation ``client_key``
        viewed by ``user_id``; returns the access (use ``.effective``). Refuses with a message
        the app's error callback receives: unknown installation, another app's installation, or
        no grant (``data.consent_required``, ``data.grant_url``)."""
        if not client_key:
            raise BadRequest(
                "X-Appdock-Client-Key: missing; the host page names the installation of the "
                "iframe (reload the page)",
                field=CLIENT_KEY_HEADER,
            )
        access = self.access(client_key, user_id)
        if access.app_key != app_key:
            raise Forbidden(
                f"installation {client_key!r} belongs to app {access.app_key!r}, not {app_key!r}"
            )
        if access.granted is None:
            raise Forbidden(
                f"{access.app_name} may not act for you: you have not granted it access",
                detail="Open the Grant access page to review what the app asks for.",
                data={
                    "consent_required": True,
                    "app_key": access.app_key,
                    "client_key": access.client_key,
                    "grant_url": grant_url(access.client_key),
                },
            )
        return access

    def consent_config(
        self, user_id: int | None, installation_ids: list[int]
    ) -> dict[str, dict[str, Any]]:
        """For ``bridge_config(consent=...)``: per app key on the page, the installation's
        clientKey and name, whether the viewer must still grant access (``needsConsent``),
        whether to ask at once (``eager``: the app declares an oauthConsumer) and where
        (``grantUrl``). Anonymous viewers get the client keys only. Two queries."""
        rows = self.store.installations_by_ids(installation_ids)
        grants = self.store.grants_for(user_id, [i.id for i in rows]) if user_id else {}
        out: dict[str, dict[str, Any]] = {}
        for inst in rows:
            entry: dict[str, Any] = {"clientKey": inst.client_key, "appName": inst.name}
            if user_id is not None:
                grant = grants.get(inst.id)
                entry["needsConsent"] = grant is None or bool(
                    missing(requested_user_scopes(inst), granted_by(grant))
                )
                entry["eager"] = _consumer(inst) is not None
                entry["grantUrl"] = grant_url(inst.client_key)
            out[inst.app_key] = entry
        return out


def narrowed_subject(viewer: AuthSubject, access: AppAccess) -> AuthSubject:
    """The viewer's session as seen through an app's grant: same user, the grant's scopes."""
    return AuthSubject(
        kind="oauth",
        user_id=viewer.user_id,
        username=viewer.username,
        scopes=access.effective,
        installation_id=access.installation_id,
        app_key=access.app_key,
        extra={"client_key": access.client_key, "via": "AP.request"},
    )
