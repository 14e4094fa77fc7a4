"""The module resolver: installed modules + a page → the app elements that page shows.

Pure and typed: no database, no HTTP. The caller (a page view) loads the installations that serve
the current repository or account (the install domain's "who sees what" rules), turns each into
:class:`InstalledModule` rows (:func:`modules_from_descriptor` does it from a stored descriptor),
builds one :class:`PageContext` and one :class:`EvaluationContext`, and calls :func:`resolve` per
location (or :func:`resolve_one` for a full-page module). The result holds sorted, filtered,
signed :class:`RenderedModule` view objects for ``templates/connect/module.html``, the condition
:class:`Decision` log (for the admin debug view) and warnings (dropped context parameters...).

    >>> page = PageContext(host_base_url="https://git.example.com", viewer_uuid=None)
    >>> resolve([], location="org.bitbucket.repository.overview.informationPanel",
    ...         page=page, evaluation=EvaluationContext()).modules
    []
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from appdock.connect.ui.conditions import Decision, EvaluationContext, evaluate_module
from appdock.connect.ui.context import PageObjects
from appdock.connect.ui.security import SANDBOX, content_security_policy, frameable
from appdock.connect.ui.signing import Authentication, ModuleUrlRequest, build_module_url
from appdock.core.scopes import Scope

ModuleKind = Literal["iframe", "link", "dialog"]

IFRAME_TYPES = frozenset(
    {
        "webPanels",
        "repoPages",
        "adminPages",
        "configurePage",
        "profileTabs",
        "fileViews",
        "generalPages",
    }
)
FULL_PAGE_TYPES = frozenset(
    {"repoPages", "adminPages", "configurePage", "profileTabs", "generalPages"}
)
LINK_TYPES = frozenset({"webItems"})
UI_MODULE_TYPES = IFRAME_TYPES | LINK_TYPES | {"webSections"}

DEFAULT_WEIGHT = 100
LOAD_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class InstalledModule:
    """One UI module of one installation, as the resolver needs it."""

    app_key: str
    client_key: str
    shared_secret: str
    base_url: str
    scopes: frozenset[Scope]  # the installation's scope closure
    module_type: str  # descriptor key: "webPanels", "webItems", "repoPages"...
    module_key: str
    url: str  # the module's URL template
    location: str | None = None
    name: str = ""
    app_name: str = ""
    conditions: tuple[Any, ...] = ()
    tooltip: str | None = None
    weight: int = DEFAULT_WEIGHT
    params: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] | None = None  # webItems: {"type": "page"|"dialog"|..., "options"}
    file_matches: Mapping[str, Any] | None = None  # fileViews
    icon_url: str | None = None
    authentication: Authentication = "jwt"


AddonPageUrl = Callable[[str, str], str]
"""(app_key, module_key) → the host page URL that shows that module full page."""


@dataclass(frozen=True)
class PageContext:
    """The page being built. ``objects`` are REST 2.0 dicts keyed by context root
    (``repository``, ``pullrequest``, ``user``...), the same JSON the API returns."""

    host_base_url: str
    viewer_uuid: str | None  # "{...}"; None for anonymous viewers
    objects: PageObjects = field(default_factory=dict)
    addon_page_url: AddonPageUrl | None = None
    load_timeout_ms: int = LOAD_TIMEOUT_MS


@dataclass(frozen=True)
class RenderedModule:
    """A view object for one app element; templates print it, host.js reads ``options``."""

    app_key: str
    app_name: str
    module_key: str
    module_type: str
    location: str | None
    name: str
    tooltip: str | None
    kind: ModuleKind
    url: str  # signed iframe/dialog URL, or the link's href
    origin: str  # the app origin framed by this element ("" for plain links)
    container_id: str
    weight: int
    icon_url: str | None
    aui_icon: str | None
    options: Mapping[str, Any]

    @property
    def options_json(self) -> str:
        """JSON for the container's ``data-ap-module`` attribute (read by host.js)."""
        return json.dumps(
            {
                "addonKey": self.app_key,
                "moduleKey": self.module_key,
                "kind": self.kind,
                "url": self.url,
                "containerId": self.container_id,
                "options": dict(self.options),
            },
            separators=(",", ":"),
            sort_keys=True,
        )


@dataclass
class Resolution:
    modules: list[RenderedModule] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def frame_origins(self) -> frozenset[str]:
        """Origins this page may frame: every iframe and dialog rendered."""
        return frozenset(m.origin for m in self.modules if m.kind != "link" and m.origin)

    def content_security_policy(self) -> str:
        return content_security_policy(self.frame_origins)

    def extend(self, other: Resolution) -> Resolution:
        self.modules.extend(other.modules)
        self.decisions.extend(other.decisions)
        self.warnings.extend(other.warnings)
        return self


_SLUG = re.compile(r"[^A-Za-z0-9_-]+")
_AUI_ICON = re.compile(r"aui-iconfont-[a-z0-9-]{1,60}")  # goes into a class attribute


def container_id(app_key: str, module_key: str) -> str:
    return "ap-" + _SLUG.sub("-", app_key) + "__" + _SLUG.sub("-", module_key)


def _kind(module: InstalledModule) -> ModuleKind:
    if module.module_type in IFRAME_TYPES:
        return "iframe"
    target_type = str((module.target or {}).get("type", "")).lower()
    if target_type in {"dialog", "dialogmodule", "inlinedialog"}:
        return "dialog"
    return "link"


def _file_matches(module: InstalledModule, objects: PageObjects) -> bool:
    matches = module.file_matches or {}
    file = objects.get("file") or {}
    path = str(file.get("path") or file.get("name") or "")
    if not path:
        return False
    name = path.rsplit("/", 1)[-1]
    extensions = [str(e).lower().lstrip(".") for e in matches.get("extensions", []) or []]
    names = [str(n) for n in matches.get("filenames", matches.get("names", [])) or []]
    mimes = [str(m).lower() for m in matches.get("mime_types", matches.get("mimeTypes", [])) or []]
    if not (extensions or names or mimes):
        return False
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    mime = str(file.get("mimetype") or file.get("mime_type") or "").lower()
    return (ext in extensions) or (name in names) or bool(mime and mime in mimes)


def _options(module: InstalledModule, kind: ModuleKind, page: PageContext) -> dict[str, Any]:
    options: dict[str, Any] = {
        "moduleType": module.module_type,
        "moduleLocation": module.location or "",
        "sandbox": SANDBOX,
        "timeout": page.load_timeout_ms,
        "appName": module.app_name or module.app_key,
        # The installation behind the element: host.js names it on AP.request/proxyRequest.
        "clientKey": module.client_key,
    }
    if kind == "iframe":
        options["autoresize"] = module.module_type not in FULL_PAGE_TYPES
        options["isFullPage"] = module.module_type in FULL_PAGE_TYPES
        for dim in ("width", "height"):
            value = module.params.get(dim)
            if isinstance(value, str | int):
                options[dim] = str(value)
    elif kind == "dialog":
        dialog = dict((module.target or {}).get("options") or {})
        options["isDialog"] = True
        options["dialog"] = {
            k: dialog[k]
            for k in ("width", "height", "chrome", "header", "size", "submitText", "cancelText")
            if k in dialog and isinstance(dialog[k], str | int | bool | dict)
        }
    return options


def _render(
    module: InstalledModule,
    page: PageContext,
    objects: PageObjects,
    resolution: Resolution,
    page_links: bool,
) -> RenderedModule | None:
    kind = _kind(module)
    label = f"{module.app_key}:{module.module_key}"
    target_type = str((module.target or {}).get("type", "")).lower()
    if page_links and module.module_type in FULL_PAGE_TYPES and page.addon_page_url is not None:
        kind, target_type = "link", "page"
    if kind == "link" and target_type == "page" and page.addon_page_url is not None:
        url, origin = page.addon_page_url(module.app_key, module.module_key), ""
    else:
        built = build_module_url(
            ModuleUrlRequest(
                base_url=module.base_url,
                module_url=module.url,
                module_key=module.module_key,
                client_key=module.client_key,
                shared_secret=module.shared_secret,
                authentication=module.authentication,
                scopes=module.scopes,
                objects=objects,
                host_base_url=page.host_base_url,
                viewer_uuid=page.viewer_uuid,
            )
        )
        resolution.warnings.extend(f"{label}: {d.message()}" for d in built.dropped)
        if kind != "link" and not built.inside_app:
            resolution.warnings.append(
                f"{label}: not shown: its URL {built.url[:120]} is outside the app's baseUrl"
            )
            return None
        if kind != "link" and not frameable(built.url, page.host_base_url):
            resolution.warnings.append(
                f"{label}: not shown: the app is served from the host's own origin, where a "
                "sandboxed iframe could lift its sandbox"
            )
            return None
        url, origin = built.url, (built.origin if kind != "link" else "")
    aui_icon = module.params.get("auiIcon")
    if not (isinstance(aui_icon, str) and _AUI_ICON.fullmatch(aui_icon)):
        aui_icon = None
    return RenderedModule(
        app_key=module.app_key,
        app_name=module.app_name or module.app_key,
        module_key=module.module_key,
        module_type=module.module_type,
        location=module.location,
        name=module.name or module.module_key,
        tooltip=module.tooltip,
        kind=kind,
        url=url,
        origin=origin,
        container_id=container_id(module.app_key, module.module_key),
        weight=module.weight,
        icon_url=module.icon_url,
        aui_icon=aui_icon,
        options=_options(module, kind, page),
    )


def _sort_key(module: RenderedModule) -> tuple[int, str, str, str]:
    return (module.weight, module.name.casefold(), module.app_key, module.module_key)


def _app_object(module: InstalledModule) -> dict[str, Any]:
    return {"key": module.app_key, "name": module.app_name or module.app_key}


def resolve(
    modules: Sequence[InstalledModule],
    *,
    page: PageContext,
    evaluation: EvaluationContext,
    location: str | None = None,
    module_types: Collection[str] | None = None,
    page_links: bool = False,
) -> Resolution:
    """The modules at ``location`` (and/or of ``module_types``) that this viewer sees here.

    ``page_links``: full-page modules (repoPages, adminPages, configurePage, profileTabs) come back
    as links to ``page.addon_page_url`` instead of signed iframes — for navigation entries; the
    page itself then uses :func:`resolve_one`. ``evaluation.objects`` defaults to
    ``page.objects``. fileViews are kept only when the page's
    ``file`` matches their ``file_matches``. Output is sorted by weight, then name.
    """
    if not evaluation.objects and page.objects:
        evaluation = replace(evaluation, objects=page.objects)
    resolution = Resolution()
    seen_ids: set[str] = set()
    for module in modules:
        if location is not None and module.location != location:
            continue
        if module_types is not None and module.module_type not in module_types:
            continue
        if module.module_type == "fileViews" and not _file_matches(module, page.objects):
            continue
        shown, decisions = evaluate_module(
            module.module_key,
            module.conditions,
            evaluation,
            app_key=module.app_key,
            scopes=module.scopes,
        )
        resolution.decisions.extend(decisions)
        if not shown:
            continue
        objects = {**page.objects, "app": _app_object(module)}
        rendered = _render(module, page, objects, resolution, page_links)
        if rendered is None:
            continue
        if rendered.container_id in seen_ids:
            rendered = replace(rendered, container_id=f"{rendered.container_id}-{len(seen_ids)}")
        seen_ids.add(rendered.container_id)
        resolution.modules.append(rendered)
    resolution.modules.sort(key=_sort_key)
    return resolution


def resolve_one(
    modules: Sequence[InstalledModule],
    *,
    app_key: str,
    module_key: str,
    page: PageContext,
    evaluation: EvaluationContext,
    module_types: Collection[str] | None = None,
) -> Resolution:
    """A single module (a full page, a dialog opened by key); empty when hidden or unknown —
    the page answers 404 then, so a hidden module does not leak its existence."""
    chosen = [m for m in modules if m.app_key == app_key and m.module_key == module_key]
    return resolve(chosen, page=page, evaluation=evaluation, module_types=module_types)


# -- descriptors -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("value") or "")
    return str(value) if isinstance(value, str) else ""


def _weight(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_WEIGHT


def modules_from_descriptor(
    descriptor: Mapping[str, Any],
    *,
    client_key: str,
    shared_secret: str,
    scopes: frozenset[Scope],
    base_url: str | None = None,
) -> list[InstalledModule]:
    """The UI modules of a stored descriptor as :class:`InstalledModule` rows.

    Accepts ``configurePage`` as an object or a one-element list (§2.1). Non-UI modules
    (webhooks, linkers, oauthConsumer, proxy, postInstallRedirect) are not returned.
    """
    app_key = str(descriptor.get("key", ""))
    app_name = _text(descriptor.get("name")) or app_key
    base = str(base_url or descriptor.get("baseUrl", ""))
    auth = descriptor.get("authentication") or {}
    authentication: Authentication = (
        "none" if isinstance(auth, Mapping) and auth.get("type") == "none" else "jwt"
    )
    found: list[InstalledModule] = []
    raw_modules = descriptor.get("modules") or {}
    if not isinstance(raw_modules, Mapping):
        return found
    for module_type, entries in raw_modules.items():
        if module_type not in UI_MODULE_TYPES or module_type == "webSections":
            continue
        items = entries if isinstance(entries, list) else [entries]
        for item in items:
            if not isinstance(item, Mapping) or not item.get("key") or not item.get("url"):
                continue
            conditions = item.get("conditions") or []
            icon = item.get("icon")
            params = item.get("params") if isinstance(item.get("params"), Mapping) else {}
            target = item.get("target") if isinstance(item.get("target"), Mapping) else None
            matches = item.get("file_matches")
            found.append(
                InstalledModule(
                    app_key=app_key,
                    app_name=app_name,
                    client_key=client_key,
                    shared_secret=shared_secret,
                    base_url=base,
                    scopes=scopes,
                    module_type=module_type,
                    module_key=str(item["key"]),
                    url=str(item["url"]),
                    location=str(item["location"]) if item.get("location") else None,
                    name=_text(item.get("name")) or str(item["key"]),
                    conditions=tuple(conditions) if isinstance(conditions, list) else (),
                    tooltip=_text(item.get("tooltip")) or None,
                    weight=_weight(item.get("weight", DEFAULT_WEIGHT)),
                    params=params or {},
                    target=target,
                    file_matches=matches if isinstance(matches, Mapping) else None,
                    icon_url=str(icon["url"])
                    if isinstance(icon, Mapping) and icon.get("url")
                    else None,
                    authentication=authentication,
                )
            )
    return found


def sign_app_url(
    module: InstalledModule, url: str, page: PageContext, *, module_key: str = "url-dialog"
) -> str | None:
    """A fresh signed URL for an app-relative ``url`` (``AP.dialog.create({url})``), using the
    installation credentials carried by any ``module`` of that app. ``None`` when the URL leaves
    the app's baseUrl or could not be framed safely.
    """
    built = build_module_url(
        ModuleUrlRequest(
            base_url=module.base_url,
            module_url=url,
            module_key=module_key,
            client_key=module.client_key,
            shared_secret=module.shared_secret,
            authentication=module.authentication,
            scopes=module.scopes,
            objects={**page.objects, "app": _app_object(module)},
            host_base_url=page.host_base_url,
            viewer_uuid=page.viewer_uuid,
        )
    )
    if not built.inside_app or not frameable(built.url, page.host_base_url):
        return None
    return built.url
