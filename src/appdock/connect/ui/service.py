"""Which app modules serve a page: installations → parsed, cached :class:`InstalledModule` rows.

The install domain decides *which installations* serve a page
(:func:`appdock.connect.service.installations_serving`, "who sees what"):

* a repository page: the apps installed on the repository's account (a team, or the user owning
  a personal workspace), for every viewer who can see the repository, plus the apps the viewer
  installed on their own account (shown to that viewer only); one per app key, the owning
  account's first;
* an account page (workspace settings, a profile): the apps installed on that account;
* an uninstalled app has no row, so it serves nothing.

This module turns each installation into its UI modules and linkers once: parsing a descriptor
and decrypting a shared secret happen on the first page that needs them, then come from
:data:`MODULE_CACHE`, keyed by ``(installation id, updated_at, encrypted secret)``. Every change of
an installation (reinstall, descriptor update, scope approval) moves ``updated_at`` or the secret,
so a changed installation is parsed again; an uninstalled one is never looked up again and ages
out of the LRU. Nothing here holds ORM rows after returning.

    >>> svc = UiModuleService(session, settings.secret)
    >>> apps = svc.for_repository(workspace_id=ws.id, viewer_user_id=viewer.id)
    >>> modules = [m for app in apps for m in app.modules]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from appdock.connect.service import granted_scopes, installations_serving, shared_secret_of
from appdock.connect.store import ConnectStore
from appdock.connect.ui.resolver import DEFAULT_WEIGHT, InstalledModule, modules_from_descriptor
from appdock.core.scopes import closure
from appdock.models import Installation

CACHE_SIZE = 2048


@dataclass(frozen=True)
class LinkerSpec:
    """One ``linkers`` module of an installation (connect-spec §2.1): plain values."""

    app_key: str
    installation_id: int
    key: str
    regex: str
    url: str  # absolute: the app's baseUrl joined with the module's url
    type: str  # "href" | "image"


@dataclass(frozen=True)
class SectionSpec:
    """One ``webSections`` module: a titled group of web items at ``location``. Its items name
    the section as their location (``key``, or ``location/key`` as Atlassian's other hosts do)."""

    app_key: str
    key: str
    name: str
    location: str
    weight: int


@dataclass(frozen=True)
class AppModules:
    """Everything one installation contributes to pages."""

    installation_id: int
    app_key: str
    app_name: str
    workspace_id: int  # the account the app is installed on (its principal)
    base_url: str
    modules: tuple[InstalledModule, ...]
    linkers: tuple[LinkerSpec, ...]
    sections: tuple[SectionSpec, ...] = ()


_CacheKey = tuple[int, str, str]


class ModuleCache:
    """A small thread-safe LRU of :class:`AppModules` per installation version."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._data: OrderedDict[_CacheKey, AppModules] = OrderedDict()
        self._lock = threading.Lock()
        self.parsed = 0  # how many installations were parsed (tests and benchmarks read it)

    def get(self, key: _CacheKey) -> AppModules | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: _CacheKey, value: AppModules) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            self.parsed += 1
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def invalidate(self, installation_id: int) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == installation_id]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


MODULE_CACHE = ModuleCache()


def _cache_key(inst: Installation) -> _CacheKey:
    stamp = inst.updated_at.isoformat() if inst.updated_at is not None else ""
    return (inst.id, stamp, inst.shared_secret)


def _linkers(inst: Installation, descriptor: Mapping[str, Any]) -> tuple[LinkerSpec, ...]:
    modules = descriptor.get("modules")
    raw = modules.get("linkers") if isinstance(modules, Mapping) else None
    if not isinstance(raw, list):
        return ()
    base = str(descriptor.get("baseUrl") or inst.base_url).rstrip("/")
    found = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        key, regex, url = item.get("key"), item.get("regex"), item.get("url")
        if not (isinstance(key, str) and isinstance(regex, str) and isinstance(url, str)):
            continue
        if not url.startswith(("http://", "https://")):
            url = base + "/" + url.lstrip("/")
        kind = str(item.get("type") or "href").lower()
        found.append(
            LinkerSpec(
                app_key=inst.app_key,
                installation_id=inst.id,
                key=key,
                regex=regex,
                url=url,
                type="image" if kind == "image" else "href",
            )
        )
    return tuple(found)


def _sections(inst: Installation, descriptor: Mapping[str, Any]) -> tuple[SectionSpec, ...]:
    modules = descriptor.get("modules")
    raw = modules.get("webSections") if isinstance(modules, Mapping) else None
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        key, location = item.get("key"), item.get("location")
        if not (isinstance(key, str) and key and isinstance(location, str) and location):
            continue
        name = item.get("name")
        label = str(name.get("value") or "") if isinstance(name, Mapping) else ""
        try:
            weight = int(item.get("weight", DEFAULT_WEIGHT))
        except (TypeError, ValueError):
            weight = DEFAULT_WEIGHT
        found.append(
            SectionSpec(
                app_key=inst.app_key, key=key, name=label or key, location=location, weight=weight
            )
        )
    return tuple(found)


def app_modules(
    inst: Installation, secret_key: str, cache: ModuleCache | None = None
) -> AppModules:
    """The UI modules and linkers of one installation (cached per installation version)."""
    cache = cache if cache is not None else MODULE_CACHE
    key = _cache_key(inst)
    found = cache.get(key)
    if found is not None:
        return found
    descriptor = inst.descriptor if isinstance(inst.descriptor, Mapping) else {}
    scopes = frozenset(closure(granted_scopes(inst)))
    modules = modules_from_descriptor(
        descriptor,
        client_key=inst.client_key,
        shared_secret=shared_secret_of(secret_key, inst),
        scopes=scopes,
        base_url=inst.base_url or None,
    )
    value = AppModules(
        installation_id=inst.id,
        app_key=inst.app_key,
        app_name=inst.name,
        workspace_id=inst.workspace_id,
        base_url=inst.base_url,
        modules=tuple(modules),
        linkers=_linkers(inst, descriptor),
        sections=_sections(inst, descriptor),
    )
    cache.put(key, value)
    return value


class UiModuleService:
    """The installations (as :class:`AppModules`) that serve a page."""

    def __init__(self, session: Session, secret_key: str, cache: ModuleCache | None = None) -> None:
        self.session = session
        self.secret_key = secret_key
        self.cache = cache if cache is not None else MODULE_CACHE
        self.store = ConnectStore(session)

    def _modules(self, rows: list[Installation]) -> list[AppModules]:
        return [app_modules(r, self.secret_key, self.cache) for r in rows]

    def for_repository(self, *, workspace_id: int, viewer_user_id: int | None) -> list[AppModules]:
        """Apps serving pages of a repository owned by ``workspace_id`` for this viewer. The
        caller has already checked that the viewer can see the repository."""
        rows = installations_serving(
            self.session, workspace_id=workspace_id, viewer_user_id=viewer_user_id
        )
        return self._modules(rows)

    def for_account(self, workspace_id: int) -> list[AppModules]:
        """Apps installed on an account (workspace settings, profile pages)."""
        rows, _ = self.store.list_installations(workspace_id)
        return self._modules(sorted(rows, key=lambda r: r.app_key))

    def for_installation(self, installation_id: int) -> AppModules | None:
        inst = self.store.installation_by_id(installation_id)
        return app_modules(inst, self.secret_key, self.cache) if inst is not None else None
