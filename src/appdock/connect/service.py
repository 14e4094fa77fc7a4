"""Rules of the app platform: who may install what where, the install and uninstall plans, the
descriptor updates, the authentication of app JWTs, and which installations serve a page.

An install runs in three steps so that no database lock is held while the app is called (the app
may call the REST API back during its ``installed`` callback, as Sentry does):

1. :meth:`ConnectService.begin_install` records the attempt (clientKey, new secret) and returns an
   :class:`InstallPlan` (pure data); the caller commits;
2. the caller POSTs ``plan.body`` (``connect.lifecycle.send``), holding no transaction;
3. on a 2xx, :meth:`ConnectService.finish_install` writes the installation; otherwise
   :meth:`ConnectService.abandon_install` removes every trace of the attempt.

``connect.flows`` runs these steps. Methods here flush and never commit.

Client keys are ``ari:cloud:bitbucket::app/{account uuid}/{app key}`` (Bitbucket's own shape for
registered apps) and the same for every install of an app on an account, so an app that kept data
for a tenant recognises it after a reinstall.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appdock.account import schemas as account_schemas
from appdock.account.service import AccountService
from appdock.connect import jwt, lifecycle
from appdock.connect.descriptor import Descriptor, DescriptorError, Problem, parse_descriptor
from appdock.connect.store import ConnectStore, InstallationPrincipal
from appdock.core import crypto
from appdock.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from appdock.core.scopes import Scope, closure, format_scopes, parse_scopes
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.models import AppClientKey, Installation, User, Workspace

ATTEMPT_TTL = timedelta(seconds=60)


def client_key_for(workspace: Workspace, app_key: str) -> str:
    return f"ari:cloud:bitbucket::app/{workspace.uuid}/{app_key}"


def principal_type(workspace: Workspace) -> str:
    """``team`` for a team workspace, ``user`` for a personal account (Connect's words)."""
    return "user" if workspace.kind == "personal" else "team"


def descriptor_of(installation: Installation) -> Descriptor:
    """The installation's descriptor snapshot as a typed :class:`Descriptor`."""
    return parse_descriptor(installation.descriptor)


def granted_scopes(installation: Installation) -> frozenset[Scope]:
    """The scopes granted to an installation, as declared (apply ``closure`` for checks)."""
    return parse_scopes(installation.scopes)


def shared_secret_of(secret_key: str, installation: Installation) -> str:
    return crypto.decrypt(secret_key, installation.shared_secret)


def installations_serving(
    session: Session, *, workspace_id: int, viewer_user_id: int | None
) -> list[Installation]:
    """The installations whose modules may appear on pages of a repository owned by
    ``workspace_id``, viewed by ``viewer_user_id`` (None when anonymous).

    The rule (issue 4, "who sees what"):

    - an app installed on the **owning account** (a team, or the user owning a personal
      workspace) serves that account's repositories, for every viewer who can see them;
    - an app a user installed on **their own account** follows that user onto every repository
      they can reach, and is shown to that user only;
    - nothing else: an app on another team never shows up, and when a workspace removes an app it
      is gone for every member (who may then install it on their own account).

    When both apply for the same app, the owning account's installation wins. The caller must
    already have established that the viewer can see the repository. Sorted by app key.
    """
    store = ConnectStore(session)
    personal = store.personal_workspace_id(viewer_user_id) if viewer_user_id else None
    return store.serving(workspace_id, personal)


@dataclass(frozen=True)
class InstallPlan:
    """Everything the install flow needs between :meth:`ConnectService.begin_install` and
    :meth:`ConnectService.finish_install`; plain data, safe to hold across commits."""

    app_key: str
    app_name: str
    client_key: str
    workspace_id: int
    workspace_slug: str
    user_id: int
    user_uuid: str
    principal_type: str
    principal_username: str
    principal_uuid: str
    new_secret: str
    sign_secret: str | None
    callback_url: str | None
    body: dict[str, Any]
    app_base_url: str
    descriptor_url: str | None
    raw_descriptor: dict[str, Any]
    scopes: frozenset[Scope]
    reinstall: bool
    post_install_url: str | None


@dataclass(frozen=True)
class UninstallPlan:
    installation_id: int
    app_key: str
    app_name: str
    client_key: str
    workspace_id: int
    workspace_slug: str
    secret: str
    callback_url: str | None
    body: dict[str, Any]
    app_base_url: str
    uses_jwt: bool


@dataclass(frozen=True)
class UpdateOutcome:
    """What a descriptor update did: ``added_scopes`` await an admin's approval when not empty."""

    installation_id: int
    added_scopes: frozenset[Scope]


class ConnectService:
    def __init__(self, session: Session, secret_key: str, urls: Urls) -> None:
        self.session = session
        self.store = ConnectStore(session)
        self.accounts = AccountService(session, secret_key)
        self.secret_key = secret_key
        self.urls = urls

    # accounts --------------------------------------------------------------------------------
    def admin_account(self, value: str, user_id: int) -> Workspace:
        """The account (username or workspace slug or uuid) ``user_id`` administers; NotFound
        when it is absent or hidden, Forbidden when visible but not administered."""
        ws = self.accounts.store.workspace_by_slug_or_uuid(value)
        role = self.accounts.role_of(ws, user_id) if ws else None
        if ws is None or (role is None and ws.is_private):
            raise NotFound(f"account {value!r} not found")
        if not self.accounts.is_admin_of(ws, user_id):
            raise Forbidden(f"you are not an administrator of account {ws.slug!r}")
        return ws

    def install_targets(self, user_id: int) -> list[Workspace]:
        """The accounts a user may install apps on: their own, then teams they administer."""
        user = self.accounts.user_by_id(user_id)
        admin = self.accounts.admin_workspaces(user)
        return sorted(admin, key=lambda w: (w.kind != "personal", w.slug))

    def require_dev_mode(self, ws: Workspace) -> None:
        if not ws.dev_mode:
            raise Forbidden(
                f"development mode is off for account {ws.slug!r}: apps that are not in the "
                "Marketplace can be installed only with development mode on (account settings, "
                f"or `appdock dev-mode on {ws.slug}`)"
            )

    def listing_url(self, url: str) -> bool:
        """Whether a descriptor URL is the one of a Marketplace listing."""
        return self.store.listing_by_url(url) is not None

    # install ---------------------------------------------------------------------------------
    def begin_install(
        self,
        descriptor: Descriptor,
        raw_descriptor: dict[str, Any],
        *,
        descriptor_url: str | None,
        workspace: Workspace,
        user_id: int,
    ) -> InstallPlan:
        """Record an install attempt (a fresh shared secret under the account's clientKey) and
        return the plan of the ``installed`` callback. The caller commits before calling out."""
        user = self.accounts.user_by_id(user_id)
        existing = self.store.installation_for(descriptor.key, workspace.id)
        record = self.store.client_key_record(descriptor.key, workspace.id)
        now = utc_now()
        if record is None:
            record = AppClientKey(
                app_key=descriptor.key,
                workspace_id=workspace.id,
                client_key=client_key_for(workspace, descriptor.key),
            )
            try:
                with self.session.begin_nested():
                    self.session.add(record)
            except IntegrityError as exc:  # a concurrent install created it first
                raise Conflict(
                    f"another installation of {descriptor.key!r} on {workspace.slug!r} is in "
                    "progress; try again"
                ) from exc
        elif (
            record.attempt_secret and record.attempt_expires_at and record.attempt_expires_at > now
        ):
            raise Conflict(
                f"an installation of {descriptor.key!r} on {workspace.slug!r} is already in "
                "progress; try again in a minute"
            )
        sign_secret = None
        if existing is not None:
            sign_secret = shared_secret_of(self.secret_key, existing)
        elif record.last_secret:
            sign_secret = crypto.decrypt(self.secret_key, record.last_secret)
        new_secret = secrets.token_urlsafe(48)
        scopes = descriptor.requested_scopes
        record.attempt_secret = crypto.encrypt(self.secret_key, new_secret)
        record.attempt_scopes = format_scopes(scopes)
        record.attempt_expires_at = now + ATTEMPT_TTL
        self.session.flush()
        principal = self.principal_json(workspace)
        body = lifecycle.payload(
            "installed",
            app_key=descriptor.key,
            client_key=record.client_key,
            shared_secret=new_secret,
            base_url=self.urls.base,
            principal=principal,
            user=account_schemas.user_read(user, self.urls).model_dump(),
        )
        redirect = descriptor.modules.post_install_redirect
        return InstallPlan(
            app_key=descriptor.key,
            app_name=descriptor.name,
            client_key=record.client_key,
            workspace_id=workspace.id,
            workspace_slug=workspace.slug,
            user_id=user.id,
            user_uuid=user.uuid,
            principal_type=principal_type(workspace),
            principal_username=workspace.slug,
            principal_uuid=workspace.uuid,
            new_secret=new_secret,
            sign_secret=sign_secret,
            callback_url=descriptor.lifecycle_url("installed"),
            body=body,
            app_base_url=descriptor.base_url,
            descriptor_url=descriptor_url,
            raw_descriptor=raw_descriptor,
            scopes=scopes,
            reinstall=existing is not None,
            post_install_url=descriptor.resolve_url(redirect.url) if redirect else None,
        )

    def finish_install(self, plan: InstallPlan) -> Installation:
        """Write the installation after the app accepted the ``installed`` callback."""
        record = self._own_attempt(plan)
        if record is None:
            raise Conflict(
                f"the installation of {plan.app_key!r} was superseded by another attempt"
            )
        secret = crypto.encrypt(self.secret_key, plan.new_secret)
        inst = self.store.installation_for(plan.app_key, plan.workspace_id)
        name = plan.app_name[:255]
        if inst is None:
            inst = Installation(
                app_key=plan.app_key,
                client_key=plan.client_key,
                workspace_id=plan.workspace_id,
                shared_secret=secret,
                installed_by_user_id=plan.user_id,
                name=name,
                descriptor=plan.raw_descriptor,
                descriptor_url=plan.descriptor_url,
                base_url=plan.app_base_url,
                scopes=format_scopes(plan.scopes),
                pending_scopes=None,
            )
            self.session.add(inst)
        else:
            inst.shared_secret = secret
            inst.installed_by_user_id = plan.user_id
            inst.name = name
            inst.descriptor = plan.raw_descriptor
            inst.descriptor_url = plan.descriptor_url
            inst.base_url = plan.app_base_url
            inst.scopes = format_scopes(plan.scopes)
            inst.pending_scopes = None
            inst.updated_at = utc_now()
        record.last_secret = secret
        record.attempt_secret = record.attempt_scopes = None
        record.attempt_expires_at = None
        self.session.flush()
        return inst

    def abandon_install(self, plan: InstallPlan) -> None:
        """Forget a failed attempt; an account that never had the app keeps no trace of it."""
        record = self._own_attempt(plan)
        if record is None:
            return
        if record.last_secret is None:
            self.store.delete(record)
            return
        record.attempt_secret = record.attempt_scopes = None
        record.attempt_expires_at = None
        self.session.flush()

    def _own_attempt(self, plan: InstallPlan) -> AppClientKey | None:
        record = self.store.client_key_record(plan.app_key, plan.workspace_id)
        if record is None or not record.attempt_secret:
            return None
        try:
            mine = crypto.decrypt(self.secret_key, record.attempt_secret) == plan.new_secret
        except ValueError:
            mine = False
        return record if mine else None

    def post_install_redirect(self, plan: InstallPlan, redirect_uri: str | None) -> str | None:
        """Where the browser goes after an install: ``redirect_uri`` (already checked to start
        with the app's baseUrl) or the descriptor's ``postInstallRedirect`` with its
        ``{user_*}`` parameters, with ``client_key`` and a signed ``jwt`` appended."""
        target = redirect_uri or plan.post_install_url
        if not target:
            return None
        for name, value in (
            ("user_username", plan.principal_username),
            ("user_uuid", plan.principal_uuid),
            ("user_type", plan.principal_type),
        ):
            target = target.replace("{" + name + "}", quote(value, safe=""))
        return jwt.signed_url(
            target,
            client_key=plan.client_key,
            shared_secret=plan.new_secret,
            app_base_url=plan.app_base_url,
            user_uuid=plan.user_uuid,
            extra_params={"client_key": plan.client_key},
        )

    def principal_json(self, workspace: Workspace) -> dict[str, Any]:
        """The account an app is installed on, in the REST account shape (``type`` team|user)."""
        if workspace.kind == "personal" and workspace.owner_user_id is not None:
            owner = self.accounts.user_by_id(workspace.owner_user_id)
            return account_schemas.user_read(owner, self.urls).model_dump()
        return account_schemas.team_read(workspace, self.urls).model_dump()

    # uninstall -------------------------------------------------------------------------------
    def installation(self, installation_id: int) -> Installation:
        inst = self.store.installation_by_id(installation_id)
        if inst is None:
            raise NotFound(f"installation {installation_id} not found")
        return inst

    def find_installation(self, workspace: Workspace, value: str) -> Installation:
        """An installation on ``workspace`` by id, app key or clientKey (the dev API's ``id``)."""
        inst: Installation | None = None
        if value.isdigit():
            inst = self.store.installation_by_id(int(value))
        if inst is None:
            inst = self.store.installation_for(value, workspace.id)
        if inst is None:
            inst = self.store.installation_by_client_key(value)
        if inst is None or inst.workspace_id != workspace.id:
            raise NotFound(f"no app {value!r} is installed on account {workspace.slug!r}")
        return inst

    def managed_installation(self, installation_id: int, user_id: int) -> Installation:
        """An installation on an account the user administers; NotFound otherwise."""
        inst = self.store.installation_by_id(installation_id)
        ws = self.accounts.store.workspace_by_id(inst.workspace_id) if inst else None
        if inst is None or ws is None or not self.accounts.is_admin_of(ws, user_id):
            raise NotFound(f"installation {installation_id} not found")
        return inst

    def uninstall(self, inst: Installation) -> UninstallPlan:
        """Delete the installation (its tokens stop working at commit) and return the plan of the
        ``uninstalled`` callback, signed with the current secret. The shared secret is kept on the
        account's client key record for the next install."""
        ws = self.accounts.store.workspace_by_id(inst.workspace_id)
        assert ws is not None
        descriptor = descriptor_of(inst)
        secret = shared_secret_of(self.secret_key, inst)
        record = self.store.client_key_record(inst.app_key, inst.workspace_id)
        if record is None:
            record = AppClientKey(
                app_key=inst.app_key, workspace_id=inst.workspace_id, client_key=inst.client_key
            )
            self.session.add(record)
        record.last_secret = inst.shared_secret
        user = (
            self.accounts.store.user_by_id(inst.installed_by_user_id)
            if inst.installed_by_user_id
            else None
        )
        body = lifecycle.payload(
            "uninstalled",
            app_key=inst.app_key,
            client_key=inst.client_key,
            shared_secret=None,
            base_url=self.urls.base,
            principal=self.principal_json(ws),
            user=account_schemas.user_read(user, self.urls).model_dump() if user else None,
        )
        plan = UninstallPlan(
            installation_id=inst.id,
            app_key=inst.app_key,
            app_name=inst.name,
            client_key=inst.client_key,
            workspace_id=ws.id,
            workspace_slug=ws.slug,
            secret=secret,
            callback_url=descriptor.lifecycle_url("uninstalled"),
            body=body,
            app_base_url=descriptor.base_url,
            uses_jwt=descriptor.uses_jwt,
        )
        self.store.delete(inst)
        return plan

    # descriptor updates ----------------------------------------------------------------------
    def check_descriptor_url_change(self, inst: Installation, url: str) -> None:
        """A listed app may only move to its Marketplace URL unless the account is in dev mode."""
        listing = self.store.listing_by_key(inst.app_key)
        ws = self.accounts.store.workspace_by_id(inst.workspace_id)
        if listing and ws and not ws.dev_mode and url != listing.descriptor_url:
            raise BadRequest(
                f"descriptor_url: {url} is not the Marketplace descriptor URL of "
                f"{inst.app_key!r} ({listing.descriptor_url})",
                field="descriptor_url",
            )

    def update_descriptor(
        self,
        inst: Installation,
        descriptor: Descriptor,
        raw_descriptor: dict[str, Any],
        *,
        descriptor_url: str | None,
    ) -> UpdateOutcome:
        """Apply a new descriptor. Scopes may shrink but never to none; scopes that grow wait
        for an account admin (``pending_scopes``) while the installation keeps its old ones."""
        if descriptor.key != inst.app_key:
            problem = Problem(
                "key", f"is {descriptor.key!r}, but the installed app is {inst.app_key!r}"
            )
            raise DescriptorError([problem], field="descriptor")
        if descriptor.scopes is not None and not descriptor.scopes:
            raise DescriptorError([Problem("scopes", "may not shrink to none")], field="descriptor")
        requested = descriptor.requested_scopes
        granted = granted_scopes(inst)
        added = frozenset(closure(requested) - closure(granted))
        inst.descriptor = raw_descriptor
        inst.name = descriptor.name[:255]
        inst.base_url = descriptor.base_url
        if descriptor_url:
            inst.descriptor_url = descriptor_url
        if added:
            inst.pending_scopes = format_scopes(requested)
        else:
            inst.scopes = format_scopes(requested)
            inst.pending_scopes = None
        inst.updated_at = utc_now()
        self.session.flush()
        return UpdateOutcome(installation_id=inst.id, added_scopes=added)

    def approve_pending_scopes(self, inst: Installation) -> None:
        if not inst.pending_scopes:
            raise BadRequest(f"{inst.name} has no scope change waiting for approval")
        inst.scopes = format_scopes(parse_scopes(inst.pending_scopes))
        inst.pending_scopes = None
        inst.updated_at = utc_now()
        self.session.flush()

    # app JWT authentication ------------------------------------------------------------------
    def authenticate_app_jwt(
        self, token: str, canonicals: list[str], *, qsh_optional: bool = False
    ) -> AuthSubject:
        """The installation an app → host JWT speaks for (connect-spec §6.3), or Unauthorized
        naming the failed check. ``canonicals`` are the canonical requests the qsh may cover;
        with ``qsh_optional`` (the JWT bearer grant) a token without a qsh passes too.

        Nothing about the installation is cached: every call reads its row, so an uninstall
        committed by any process refuses the very next request. Only the decryption of the
        shared secret is cached, keyed by its ciphertext (a reinstall writes a new one)."""
        try:
            return self._authenticate(token, canonicals, qsh_optional=qsh_optional)
        except jwt.JwtRefused as exc:
            raise Unauthorized(exc.message, data={"check": exc.check}) from exc

    def _authenticate(
        self, token: str, canonicals: list[str], *, qsh_optional: bool
    ) -> AuthSubject:
        claims = jwt.read_app_token(token)
        found = self.store.installation_principal(claims.client_key)
        if found is not None:
            if claims.issuer != found.app_key:
                raise _wrong_issuer(claims, found.app_key)
            try:
                verified = jwt.verify_signature(
                    token, decrypt_secret(self.secret_key, found.shared_secret)
                )
            except jwt.JwtRefused as exc:
                if exc.check != "signature":
                    raise
            else:
                _check_time_and_qsh(verified, canonicals, qsh_optional)
                return installation_subject(found)
        # No installation, or a signature that does not match its secret: an install whose
        # ``installed`` callback is in flight may be calling with its new secret.
        record = self.store.client_key_record_by_key(claims.client_key)
        attempt = (
            record
            if record is not None
            and record.attempt_secret
            and record.attempt_expires_at
            and record.attempt_expires_at > utc_now()
            else None
        )
        if found is None and attempt is None:
            raise jwt.JwtRefused(
                "client_key",
                f"JWT: unknown clientKey {claims.client_key!r} in 'sub': no installation has it "
                "(was the app uninstalled? 'sub' must be the clientKey, 'iss' the app key)",
            )
        if attempt is None or not attempt.attempt_secret:
            raise _bad_signature(claims.client_key)
        if claims.issuer != attempt.app_key:
            raise _wrong_issuer(claims, attempt.app_key)
        try:
            verified = jwt.verify_signature(
                token, crypto.decrypt(self.secret_key, attempt.attempt_secret)
            )
        except jwt.JwtRefused as exc:
            if exc.check == "signature":
                raise _bad_signature(claims.client_key) from exc
            raise
        _check_time_and_qsh(verified, canonicals, qsh_optional)
        account = self.accounts.store.workspace_by_id(attempt.workspace_id)
        assert account is not None
        holder: User | None = None
        if account.kind == "personal" and account.owner_user_id is not None:
            holder = self.accounts.store.user_by_id(account.owner_user_id)
        return AuthSubject.limited(
            "installation",
            parse_scopes(attempt.attempt_scopes or ""),
            installation_id=found.installation_id if found is not None else None,
            app_key=attempt.app_key,
            workspace_id=account.id,
            user_id=holder.id if holder else None,
            username=holder.username if holder else None,
            extra={"client_key": claims.client_key},
        )


@lru_cache(maxsize=4096)
def decrypt_secret(secret_key: str, ciphertext: str) -> str:
    """A shared secret decrypted once per ciphertext: a reinstall (or any new secret) writes a
    new ciphertext, so a stale entry can never be used for a new secret."""
    return crypto.decrypt(secret_key, ciphertext)


def installation_subject(
    principal: InstallationPrincipal, scopes: frozenset[Scope] | None = None
) -> AuthSubject:
    """The caller an installation is: its principal account (a team, or the user owning a
    personal workspace), limited to ``scopes`` (default: the closure of the granted ones)."""
    return AuthSubject(
        kind="installation",
        scopes=granted_closure(principal.scopes) if scopes is None else scopes,
        installation_id=principal.installation_id,
        app_key=principal.app_key,
        workspace_id=principal.workspace_id,
        user_id=principal.user_id,
        username=principal.username,
        extra={"client_key": principal.client_key},
    )


@lru_cache(maxsize=1024)
def granted_closure(scopes: str) -> frozenset[Scope]:
    """The closure of a stored scope list (``installations.scopes``), computed once per value."""
    return closure(parse_scopes(scopes))


def _check_time_and_qsh(claims: dict[str, Any], canonicals: list[str], optional: bool) -> None:
    jwt.check_expiry(claims)
    if optional and not claims.get("qsh"):
        return
    jwt.check_qsh(claims, canonicals)


def _wrong_issuer(claims: jwt.AppTokenClaims, app_key: str) -> jwt.JwtRefused:
    return jwt.JwtRefused(
        "issuer",
        f"JWT: 'iss' is {claims.issuer!r}, but clientKey {claims.client_key!r} belongs "
        f"to app {app_key!r}; 'iss' must be the app key",
    )


def _bad_signature(client_key: str) -> jwt.JwtRefused:
    return jwt.JwtRefused(
        "signature",
        f"JWT: bad signature; the token was not signed with the shared secret of "
        f"installation {client_key!r}",
    )
