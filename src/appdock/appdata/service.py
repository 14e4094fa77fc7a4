"""Rules for app properties and linker values.

App properties (connect-spec §7.5): a JSON object an app stores on a repository, a commit, a pull
request or a user, under ``/properties/{app_key}/{name}``.

- Only the app itself (its JWT or access token, ``subject.app_key == app_key``) reads and writes
  its properties; anyone else gets a 404, as for a property that does not exist. A value whose
  ``_attributes`` holds ``"public"`` is also readable by every caller who can see the object.
- The object must be visible to the caller (hidden → 404), and the route's scope is the one to
  read the object (``repository``, ``pullrequest``, ``account``).
- A value is a JSON object of at most :data:`MAX_PROPERTY_BYTES` (serialised); ``_attributes``,
  when present, is a list of ``"public"`` and ``"read_only"``.

Linker values (§7.4): strings an installation registers per linker of its descriptor; a linker
whose regex holds ``(?K)`` links only them. :func:`linker_values` is what the page side reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.appdata.store import AppDataStore
from appdock.config import Settings
from appdock.connect.descriptor import Linker
from appdock.connect.service import descriptor_of
from appdock.connect.store import ConnectStore
from appdock.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.models import AppLinkerValue, AppProperty, Installation
from appdock.pullrequest.service import PullRequestService
from appdock.repo.service import RepoService

MAX_PROPERTY_BYTES = 32 * 1024
ATTRIBUTES = frozenset({"public", "read_only"})
LINKER_VALUE = re.compile(r"^[\w\-]{1,255}$")

TargetKind = Literal["repository", "commit", "pullrequest", "user"]


@dataclass(frozen=True)
class Target:
    """The object a property is stored on, resolved and visible to the caller."""

    key: str
    label: str
    repository_id: int | None = None
    pullrequest_id: int | None = None
    user_id: int | None = None


class PropertyService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.store = AppDataStore(session)

    # targets -------------------------------------------------------------------------------------
    def repository(self, subject: AuthSubject, workspace: str, repo_slug: str) -> Target:
        ctx = RepoService(self.session, self.settings).get(
            workspace, repo_slug, subject, scope=Scope.REPOSITORY
        )
        return Target(f"repository:{ctx.repo.id}", ctx.full_name, repository_id=ctx.repo.id)

    def commit(self, subject: AuthSubject, workspace: str, repo_slug: str, rev: str) -> Target:
        repos = RepoService(self.session, self.settings)
        ctx = repos.get(workspace, repo_slug, subject, scope=Scope.REPOSITORY)
        sha = repos.resolve_commit(ctx, rev)
        return Target(
            f"commit:{ctx.repo.id}:{sha}", f"{ctx.full_name}@{sha[:12]}", repository_id=ctx.repo.id
        )

    def pullrequest(
        self, subject: AuthSubject, workspace: str, repo_slug: str, number: int
    ) -> Target:
        prs = PullRequestService(self.session, self.settings)
        dest = prs.repository(workspace, repo_slug, subject)
        pr = prs.get(dest, number).pr
        return Target(
            f"pullrequest:{pr.id}",
            f"{dest.full_name}#{number}",
            repository_id=dest.repo.id,
            pullrequest_id=pr.id,
        )

    def user(self, subject: AuthSubject, selected_user: str) -> Target:
        user = AccountService(self.session, self.settings.secret).get_user(selected_user)
        return Target(f"user:{user.id}", user.username, user_id=user.id)

    # values --------------------------------------------------------------------------------
    def get(self, subject: AuthSubject, target: Target, app_key: str, name: str) -> dict[str, Any]:
        row = self.store.property(app_key, target.key, name)
        if row is None or not (_is_owner(subject, app_key) or _is_public(row.value)):
            raise _missing(target, app_key, name)
        return dict(row.value)

    def put(
        self, subject: AuthSubject, target: Target, app_key: str, name: str, value: Any
    ) -> bool:
        """Store ``value``; True when the property was created."""
        if not _is_owner(subject, app_key):
            raise _missing(target, app_key, name)
        checked = check_value(value)
        row = self.store.property(app_key, target.key, name)
        if row is not None:
            row.value = checked
            self.session.flush()
            return False
        row = AppProperty(
            app_key=app_key,
            target=target.key,
            name=name,
            value=checked,
            repository_id=target.repository_id,
            pullrequest_id=target.pullrequest_id,
            user_id=target.user_id,
        )
        try:
            with self.session.begin_nested():
                self.store.add(row)
        except IntegrityError as exc:  # a concurrent PUT created it first
            raise Conflict(f"property {name!r} was created concurrently; retry") from exc
        return True

    def delete(self, subject: AuthSubject, target: Target, app_key: str, name: str) -> None:
        row = self.store.property(app_key, target.key, name)
        if row is None or not _is_owner(subject, app_key):
            raise _missing(target, app_key, name)
        self.store.delete(row)


def check_value(value: Any) -> dict[str, Any]:
    """A property value as stored: a JSON object within the size limit, valid ``_attributes``."""
    if not isinstance(value, dict):
        raise BadRequest("body: a property value must be a JSON object", field="body")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_PROPERTY_BYTES:
        raise BadRequest(
            f"body: the property value is {size} bytes; the limit is {MAX_PROPERTY_BYTES}",
            field="body",
        )
    attributes = value.get("_attributes")
    if attributes is not None and (
        not isinstance(attributes, list)
        or any(not isinstance(a, str) or a not in ATTRIBUTES for a in attributes)
    ):
        raise BadRequest(
            '_attributes: must be a list of "public" and "read_only"', field="_attributes"
        )
    return value


def _is_owner(subject: AuthSubject, app_key: str) -> bool:
    return subject.kind == "installation" and subject.app_key == app_key


def _is_public(value: dict[str, Any]) -> bool:
    attributes = value.get("_attributes")
    return isinstance(attributes, list) and "public" in attributes


def _missing(target: Target, app_key: str, name: str) -> NotFound:
    return NotFound(f"no property {name!r} of app {app_key!r} on {target.label}")


def target_key(
    kind: TargetKind,
    *,
    repository_id: int | None = None,
    commit: str | None = None,
    pullrequest_id: int | None = None,
    user_id: int | None = None,
) -> str:
    """The key a property's object is stored under, for page code that already holds the ids
    (a commit needs its repository id and full hash).

    >>> target_key("commit", repository_id=3, commit="9f1c...")
    'commit:3:9f1c...'
    """
    if kind == "repository" and repository_id is not None:
        return f"repository:{repository_id}"
    if kind == "commit" and repository_id is not None and commit:
        return f"commit:{repository_id}:{commit}"
    if kind == "pullrequest" and pullrequest_id is not None:
        return f"pullrequest:{pullrequest_id}"
    if kind == "user" and user_id is not None:
        return f"user:{user_id}"
    raise ValueError(f"not enough ids for a {kind} property target")


def property_exists(session: Session, app_key: str, target: str, name: str) -> bool:
    """Whether ``app_key`` stored the property ``name`` on ``target`` (a :func:`target_key`):
    what the ``property_exists`` condition of UI modules asks (connect-spec §2.3)."""
    return AppDataStore(session).property(app_key, target, name) is not None


# linker values ---------------------------------------------------------------------------------
def linker_values(session: Session, installation_id: int, linker_key: str) -> list[str]:
    """The values an installation registered for one of its linkers, oldest first.

    >>> linker_values(session, inst.id, "jira-issue")
    ['PROJ-1', 'PROJ-7']
    """
    rows, _total = AppDataStore(session).linker_values(installation_id, linker_key)
    return [row.value for row in rows]


def linker_value_sets(
    session: Session, pairs: Sequence[tuple[int, str]]
) -> Mapping[tuple[int, str], frozenset[str]]:
    """What the page side's linkers read (``app.state.linker_values``): the registered values
    of several ``(installation id, linker key)`` pairs at once."""
    found: dict[tuple[int, str], set[str]] = {}
    for row in AppDataStore(session).linker_values_for(pairs):
        found.setdefault((row.installation_id, row.linker_key), set()).add(row.value)
    return {pair: frozenset(values) for pair, values in found.items()}


class LinkerService:
    """The ``/2.0/addon/linkers`` API of the calling installation (JWT or access token only)."""

    def __init__(self, session: Session, subject: AuthSubject) -> None:
        if subject.kind != "installation" or subject.installation_id is None:
            raise Unauthorized(
                "Authentication must use app JWT",
                detail="Call /2.0/addon/linkers with 'Authorization: JWT <token>' "
                "(iss = app key, sub = clientKey) or an installation access token.",
            )
        inst = ConnectStore(session).installation_by_id(subject.installation_id)
        if inst is None:
            raise Unauthorized("the app was uninstalled")
        self.session = session
        self.store = AppDataStore(session)
        self.installation: Installation = inst

    def linkers(self) -> list[Linker]:
        return list(descriptor_of(self.installation).modules.linkers)

    def linker(self, linker_key: str) -> Linker:
        for linker in self.linkers():
            if linker.key == linker_key:
                return linker
        raise NotFound(f"the app's descriptor has no linker {linker_key!r}")

    def values(self, linker_key: str, offset: int, limit: int) -> tuple[list[AppLinkerValue], int]:
        self.linker(linker_key)
        return self.store.linker_values(self.installation.id, linker_key, offset, limit)

    def value(self, linker_key: str, value_id: int) -> AppLinkerValue:
        self.linker(linker_key)
        row = self.store.linker_value(self.installation.id, linker_key, value_id)
        if row is None:
            raise NotFound(f"linker {linker_key!r} has no value {value_id}")
        return row

    def add(self, linker_key: str, value: str) -> AppLinkerValue:
        self.linker(linker_key)
        value = _check_linker_value(value, "value")
        if self.store.linker_value_by_text(self.installation.id, linker_key, value):
            raise Conflict(f"linker {linker_key!r} already has the value {value!r}")
        row = AppLinkerValue(
            installation_id=self.installation.id, linker_key=linker_key, value=value
        )
        try:
            with self.session.begin_nested():
                self.store.add(row)
        except IntegrityError as exc:
            raise Conflict(f"linker {linker_key!r} already has the value {value!r}") from exc
        return row

    def replace(self, linker_key: str, values: list[str]) -> None:
        self.linker(linker_key)
        checked = [_check_linker_value(v, f"values[{i}]") for i, v in enumerate(values)]
        self.store.clear_linker(self.installation.id, linker_key)
        for value in dict.fromkeys(checked):
            self.session.add(
                AppLinkerValue(
                    installation_id=self.installation.id, linker_key=linker_key, value=value
                )
            )
        self.session.flush()

    def clear(self, linker_key: str) -> None:
        self.linker(linker_key)
        self.store.clear_linker(self.installation.id, linker_key)

    def remove(self, linker_key: str, value_id: int) -> None:
        self.store.delete(self.value(linker_key, value_id))


def _check_linker_value(value: str, field: str) -> str:
    if not LINKER_VALUE.match(value):
        raise BadRequest(
            f"{field}: {value[:40]!r} is not a linker value (1-255 letters, digits, '_' or '-', "
            "as (?K) matches)",
            field=field,
        )
    return value
