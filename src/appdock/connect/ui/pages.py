"""App modules on the host's pages: one :class:`PageModules` per page request.

A page view asks :func:`repository_page` (or :func:`account_page`) for the page's modules once;
the object is stored on ``request.state.page_modules`` and handed to the templates as
``connect``. Templates ask it for a location (``connect.at(PANELS)``); nothing is computed for a
page no app serves, and a location no module targets costs a dictionary walk. After rendering,
:meth:`PageModules.apply` sets the page's ``Content-Security-Policy`` (``frame-src`` only the
origins of the apps framed on this page, ``frame-ancestors 'none'``).

The REST 2.0 JSON of the page's objects (repository, pull request, commit, viewer...) is built
lazily, once, and only when some module is about to be resolved. Full-page modules have their
own routes here (``/{workspace}/{repo}/addon/{app_key}/{module_key}``, the settings pages, the
profile tabs); those 404 when the module is hidden or unknown, so a hidden module does not leak.

Everything an app supplies reaches templates as strings in :class:`RenderedModule` and is
escaped by Jinja (``templates/connect/module.html``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from appdock.account import schemas as account_schemas
from appdock.account.service import AccountService
from appdock.account.store import AccountStore
from appdock.account.views import workspace_for_page
from appdock.auth import csrf
from appdock.auth.deps import DbDep, SettingsDep
from appdock.config import Settings
from appdock.connect.ui.conditions import Decision, EvaluationContext, FileLookup, Permission
from appdock.connect.ui.grants import GrantService
from appdock.connect.ui.linkers import (
    CompiledLinker,
    LinkerValues,
    compile_linkers,
    link_html,
    no_values,
)
from appdock.connect.ui.page import bridge_config, page_csp
from appdock.connect.ui.resolver import (
    AddonPageUrl,
    InstalledModule,
    PageContext,
    RenderedModule,
    Resolution,
    resolve,
)
from appdock.connect.ui.service import AppModules, UiModuleService
from appdock.core.errors import NotFound
from appdock.core.urls import Urls
from appdock.models import Workspace
from appdock.repo import schemas as repo_schemas
from appdock.repo.context import RepoContext
from appdock.repo.service import Permission as RepoPermission
from appdock.repo.service import RepoService
from appdock.repo.views import repo_nav_items, repo_view
from appdock.web.deps import LoggedIn, Viewer, ViewerView, csrf_protect, viewer_subject
from appdock.web.templating import render, templates

PANELS_REPOSITORY = "org.bitbucket.repository.overview.informationPanel"
PANELS_PULLREQUEST = "org.bitbucket.pullrequest.overview.informationPanel"
NAVIGATION = "org.bitbucket.repository.navigation"
REPOSITORY_ACTIONS = "org.bitbucket.repository.actions"
REPOSITORY_ADMIN = "org.bitbucket.repository.admin"
ACCOUNT_ADMIN = "org.bitbucket.account.admin"

ObjectsFactory = Callable[[], dict[str, Any]]


# a repoPage may also sit at an item location (org.bitbucket.repository.actions): a page link
ITEM_TYPES = frozenset({"webItems", "repoPages"})


@dataclass(frozen=True)
class ItemGroup:
    """Web items shown together: ``label`` is a webSection's name (None: no section)."""

    label: str | None
    app_name: str | None
    modules: list[RenderedModule]


def _targets_page(module: InstalledModule) -> bool:
    return str((module.target or {}).get("type", "")).lower() == "page"


def _sort_key(module: RenderedModule) -> tuple[int, str, str, str]:
    return (module.weight, module.name.casefold(), module.app_key, module.module_key)


@dataclass(frozen=True)
class DebugReport:
    apps: list[str]
    decisions: list[Decision]
    unplaced: list[dict[str, str]]  # no credentials: app key, type, key, location
    warnings: list[str]


@dataclass
class PageSetup:
    """What a page knows about itself, for :class:`PageModules`. Callables are run lazily."""

    host_base_url: str
    viewer_uuid: str | None
    csrf_token: str
    objects: ObjectsFactory  # REST 2.0 JSON by context root (repository, user, workspace...)
    principal: Callable[[int], dict[str, Any]]  # install account id → its REST JSON
    evaluation: EvaluationContext
    # module type → (app_key, module_key) → the host page showing that module full page;
    # "*" for the other types (a webItem whose target is a page)
    addon_page_urls: Mapping[str, AddonPageUrl] = field(default_factory=dict)
    addon_page_template: str | None = None
    page_target: str | None = None
    page_context: dict[str, str | int] = field(default_factory=dict)
    linker_values: LinkerValues = no_values
    # installation ids of the apps framed here → bridge_config(consent=...) (Grant access)
    consent: Callable[[list[int]], Mapping[str, Mapping[str, Any]]] | None = None
    debug: bool = False  # the viewer administers the account: may see the decision log


class PageModules:
    """The app modules of one page request (see the module docstring)."""

    def __init__(
        self,
        apps: Sequence[AppModules] | Callable[[], Sequence[AppModules]],
        setup: PageSetup,
    ) -> None:
        self._apps_source = apps
        self._apps: list[AppModules] | None = None
        self._modules: list[InstalledModule] | None = None
        self.setup = setup
        self._extra: dict[str, ObjectsFactory] = {}
        self._rows: dict[str, dict[str, Callable[[], Any]]] = {}
        self._linkers: list[CompiledLinker] | None = None
        self._objects: dict[str, Any] | None = None
        self._memo: dict[tuple[Any, ...], Resolution] = {}
        self.resolutions: list[Resolution] = []

    @property
    def apps(self) -> list[AppModules]:
        """The installations serving this page (loaded on first use)."""
        if self._apps is None:
            source = self._apps_source
            self._apps = list(source() if callable(source) else source)
        return self._apps

    @property
    def modules(self) -> list[InstalledModule]:
        if self._modules is None:
            self._modules = [m for app in self.apps for m in app.modules]
        return self._modules

    def _principal_of(self, app_key: str) -> int:
        return next((a.workspace_id for a in self.apps if a.app_key == app_key), 0)

    def _addon_page_url(self, app_key: str, module_key: str) -> str:
        urls = self.setup.addon_page_urls
        kind = next(
            (
                m.module_type
                for m in self.modules
                if (m.app_key, m.module_key) == (app_key, module_key)
            ),
            "*",
        )
        build = urls.get(kind) or urls.get("*")
        return build(app_key, module_key) if build is not None else "#"

    def update_evaluation(self, **changes: Any) -> None:
        """Facts only the view knows (``file_is_binary`` on a file page)."""
        self.setup.evaluation = replace(self.setup.evaluation, **changes)
        self._memo.clear()

    def file_viewers(
        self, selected: str = ""
    ) -> tuple[list[RenderedModule], RenderedModule | None]:
        """The fileViews matching this page's ``file`` and the one chosen with
        ``?fileviewer=<app key>:<module key>`` (None: the host's own view)."""
        viewers = self.at(None, module_types={"fileViews"})
        chosen = next((v for v in viewers if f"{v.app_key}:{v.module_key}" == selected), None)
        return viewers, chosen

    # -- linkers ------------------------------------------------------------------------------
    def linkify(self, value: str) -> Markup:
        """Rendered HTML (or plain text, escaped first) with the page's app linkers applied."""
        if self._linkers is None:
            specs = [linker for app in self.apps for linker in app.linkers]
            self._linkers = compile_linkers(specs, self.setup.linker_values) if specs else []
        return link_html(value, self._linkers)

    # -- page objects ---------------------------------------------------------------------------
    def add_object(self, root: str, factory: Callable[[], Any]) -> None:
        """Another context root for this page (``pullrequest``, ``commit``, ``file``...), built
        only if a module is resolved."""
        self._extra[root] = lambda: {root: factory()}
        self._objects = None
        self._memo.clear()

    def objects(self) -> dict[str, Any]:
        if self._objects is None:
            objects = dict(self.setup.objects())
            for factory in self._extra.values():
                objects.update(factory())
            self._objects = objects
        return self._objects

    @property
    def app_keys(self) -> frozenset[str]:
        return frozenset(a.app_key for a in self.apps)

    # -- resolution -----------------------------------------------------------------------------
    def _candidates(
        self,
        locations: frozenset[str] | None,
        module_types: Collection[str] | None,
        predicate: Callable[[InstalledModule], bool] | None = None,
    ) -> list[InstalledModule]:
        return [
            m
            for m in self.modules
            if (locations is None or m.location in locations)
            and (module_types is None or m.module_type in module_types)
            and (predicate is None or predicate(m))
        ]

    def _resolve(
        self,
        candidates: list[InstalledModule],
        *,
        objects: Mapping[str, Any] | None,
        module_types: Collection[str] | None,
        page_links: bool,
    ) -> Resolution:
        base_objects = {**self.objects(), **(objects or {})}
        evaluation = replace(
            self.setup.evaluation, objects=base_objects, installed_apps=self.app_keys
        )
        by_principal: dict[int, list[InstalledModule]] = {}
        for module in candidates:
            by_principal.setdefault(self._principal_of(module.app_key), []).append(module)
        merged = Resolution()
        for principal_id, group in by_principal.items():
            group_objects = {**base_objects, "principal": self.setup.principal(principal_id)}
            page = PageContext(
                host_base_url=self.setup.host_base_url,
                viewer_uuid=self.setup.viewer_uuid,
                objects=group_objects,
                addon_page_url=self._addon_page_url if self.setup.addon_page_urls else None,
            )
            merged.extend(
                resolve(
                    group,
                    page=page,
                    evaluation=replace(evaluation, objects=group_objects),
                    module_types=module_types,
                    page_links=page_links,
                )
            )
        merged.modules.sort(key=_sort_key)
        seen: set[str] = set()
        for index, rendered in enumerate(merged.modules):
            if rendered.container_id in seen:
                rendered = replace(rendered, container_id=f"{rendered.container_id}-{index}")
                merged.modules[index] = rendered
            seen.add(rendered.container_id)
        return merged

    def add_rows(self, root: str, factories: Mapping[str, Callable[[], Any]]) -> None:
        """Per-row context objects (one ``branch`` per row of the branch list), picked with
        ``row=(root, name)`` in :meth:`at` / :meth:`items` and built only if needed."""
        self._rows.setdefault(root, {}).update(factories)

    def _row_objects(self, row: tuple[str, str] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        factory = self._rows.get(row[0], {}).get(row[1])
        return {row[0]: factory()} if factory is not None else None

    def at(
        self,
        location: str | Collection[str] | None,
        *,
        module_types: Collection[str] | None = None,
        page_links: bool = False,
        row: tuple[str, str] | None = None,
    ) -> list[RenderedModule]:
        """The modules this viewer sees at ``location`` (one or several; and/or of
        ``module_types``), sorted by weight then name. ``row`` adds a per-row context object
        registered with :meth:`add_rows`. Results are memoised per page."""
        if location is None:
            locations = None
        elif isinstance(location, str):
            locations = frozenset({location})
        else:
            locations = frozenset(location)
        types = frozenset(module_types) if module_types is not None else None
        memo_key = (locations, types, page_links, row)
        found = self._memo.get(memo_key)
        if found is None:
            candidates = self._candidates(locations, types)
            if not candidates:
                return []
            found = self._resolve(
                candidates,
                objects=self._row_objects(row),
                module_types=types,
                page_links=page_links,
            )
            self._memo[memo_key] = found
            self.resolutions.append(found)
        return found.modules

    def items(self, location: str, *, row: tuple[str, str] | None = None) -> list[ItemGroup]:
        """The webItems at ``location``: first those placed there directly, then one titled
        group per webSection at ``location`` (its items name the section key, or
        ``location/key``, as their location)."""
        if not self.apps:
            return []
        groups: list[ItemGroup] = []
        direct = self.at(location, module_types=ITEM_TYPES, page_links=True, row=row)
        if direct:
            groups.append(ItemGroup(label=None, app_name=None, modules=direct))
        sections = sorted(
            (s for app in self.apps for s in app.sections if s.location == location),
            key=lambda s: (s.weight, s.name.casefold(), s.app_key, s.key),
        )
        for section in sections:
            names = {section.key, f"{location}/{section.key}"}
            modules = [
                m
                for m in self.at(names, module_types=ITEM_TYPES, page_links=True, row=row)
                if m.app_key == section.app_key
            ]
            if modules:
                groups.append(
                    ItemGroup(label=section.name, app_name=modules[0].app_name, modules=modules)
                )
        return groups

    def one(
        self, app_key: str, module_key: str, module_types: Collection[str]
    ) -> RenderedModule | None:
        """A single module (a full page); ``None`` when hidden or unknown. A webItem whose
        target is ``page`` is shown as a full page too (Bitbucket opens it in the host)."""
        types = frozenset(module_types)
        memo_key = ("one", app_key, module_key, types)
        found = self._memo.get(memo_key)
        if found is None:
            candidates = [
                replace(m, module_type="generalPages", target=None)
                if m.module_type == "webItems"
                else m
                for m in self._candidates(
                    None,
                    types,
                    lambda m: (
                        m.app_key == app_key
                        and m.module_key == module_key
                        and (m.module_type != "webItems" or _targets_page(m))
                    ),
                )
            ]
            if not candidates:
                return None
            found = self._resolve(candidates, objects=None, module_types=None, page_links=False)
            self._memo[memo_key] = found
            self.resolutions.append(found)
        return found.modules[0] if found.modules else None

    # -- output ---------------------------------------------------------------------------------
    @property
    def has_frames(self) -> bool:
        return any(m.kind != "link" for r in self.resolutions for m in r.modules)

    @property
    def decisions(self) -> list[Decision]:
        return [d for r in self.resolutions for d in r.decisions]

    @property
    def warnings(self) -> list[str]:
        return [w for r in self.resolutions for w in r.warnings]

    def debug_report(self) -> DebugReport:
        """For the admin debug view: each decision made while building this page, the modules
        no location of this page asked for, and the resolver's warnings."""
        decisions = self.decisions
        decided = {(d.app_key, d.module_key) for d in decisions}
        unplaced = [
            {
                "app_key": m.app_key,
                "module_type": m.module_type,
                "module_key": m.module_key,
                "location": m.location or "",
            }
            for m in self.modules
            if (m.app_key, m.module_key) not in decided
        ]
        return DebugReport(
            apps=[a.app_key for a in self.apps],
            decisions=decisions,
            unplaced=unplaced,
            warnings=self.warnings,
        )

    def config(self) -> dict[str, Any]:
        """The JSON ``templates/connect/scripts.html`` hands to host.js."""
        framed = {m.app_key for r in self.resolutions for m in r.modules if m.kind != "link"}
        ids = [a.installation_id for a in self.apps if a.app_key in framed]
        consent = self.setup.consent(ids) if self.setup.consent is not None and ids else None
        return bridge_config(
            csrf_token=self.setup.csrf_token,
            consent=consent,
            resolutions=self.resolutions,
            addon_page_url=self.setup.addon_page_template,
            page_target=self.setup.page_target,
            page_context=self.setup.page_context,
        )

    def csp(self) -> str:
        return page_csp(self.resolutions)

    def apply(self, response: Response) -> Response:
        """Set the page's CSP once the template rendered (only pages that frame an app)."""
        if self.has_frames:
            response.headers["Content-Security-Policy"] = self.csp()
        return response


# -- builders ------------------------------------------------------------------------------------


def _viewer_json(session: Session, viewer_id: int | None, urls: Urls) -> dict[str, Any] | None:
    user = AccountStore(session).user_by_id(viewer_id) if viewer_id is not None else None
    return account_schemas.user_read(user, urls).model_dump(mode="json") if user else None


def _principal_factory(session: Session, urls: Urls) -> Callable[[int], dict[str, Any]]:
    cache: dict[int, dict[str, Any]] = {}

    def principal(workspace_id: int) -> dict[str, Any]:
        if workspace_id not in cache:
            store = AccountStore(session)
            ws = store.workspace_by_id(workspace_id)
            if ws is None:
                cache[workspace_id] = {}
            elif ws.kind == "personal" and ws.owner_user_id is not None:
                owner = store.user_by_id(ws.owner_user_id)
                cache[workspace_id] = (
                    account_schemas.user_read(owner, urls).model_dump(mode="json") if owner else {}
                )
            else:
                cache[workspace_id] = account_schemas.team_read(ws, urls).model_dump(mode="json")
        return cache[workspace_id]

    return principal


def _linker_values(request: Request, session: Session) -> LinkerValues:
    """``app.state.linker_values``: ``(session, pairs) -> {(installation id, linker key):
    values}``, set by the REST API that stores registered ``(?K)`` values; none until then."""
    provider = getattr(request.app.state, "linker_values", None)
    if provider is None:
        return no_values

    def values(pairs: Sequence[tuple[int, str]]) -> Mapping[tuple[int, str], frozenset[str]]:
        found: Mapping[tuple[int, str], frozenset[str]] = provider(session, pairs)
        return found

    return values


def _consent(
    session: Session, settings: Settings, viewer_id: int | None
) -> Callable[[list[int]], Mapping[str, Mapping[str, Any]]]:
    """Per framed app: its clientKey and whether the viewer must still grant it access
    (``connect.ui.grants``); host.js shows the Grant access prompt from this."""

    def consent(installation_ids: list[int]) -> Mapping[str, Mapping[str, Any]]:
        return GrantService(session, settings.secret).consent_config(viewer_id, installation_ids)

    return consent


def app_links(value: str, connect: PageModules | None) -> Markup | str:
    """Jinja filter: ``{{ html|app_links(connect) }}`` applies the page's linkers."""
    if connect is None:
        return value
    return connect.linkify(value)


templates.env.filters["app_links"] = app_links


def _join(prefix: str, app_key: str, module_key: str) -> str:
    return f"{prefix}/{quote(app_key, safe='')}/{quote(module_key, safe='')}"


def repository_page(
    request: Request,
    session: Session,
    settings: Settings,
    ctx: RepoContext,
    permission: int,
    viewer_id: int | None,
    *,
    viewer_uuid: str | None = None,
    file_exists: FileLookup | None = None,
) -> PageModules:
    """The modules of a page of repository ``ctx`` seen by ``viewer_id`` with ``permission``
    (0 none … 3 admin, as ``repo.service.Permission``). Stored on ``request.state``."""
    urls = Urls(settings.base_url)
    service = UiModuleService(session, settings.secret)
    workspace_id = ctx.workspace.id

    def apps() -> list[AppModules]:
        return service.for_repository(workspace_id=workspace_id, viewer_user_id=viewer_id)

    ws_slug, repo_slug = ctx.workspace.slug, ctx.repo.slug

    def objects() -> dict[str, Any]:
        found: dict[str, Any] = {
            "repository": repo_schemas.repository_read(ctx, urls).model_dump(mode="json"),
            "workspace": account_schemas.workspace_read(ctx.workspace, urls).model_dump(
                mode="json"
            ),
        }
        user = _viewer_json(session, viewer_id, urls)
        if user is not None:
            found["user"] = user
        return found

    level = Permission(max(0, min(3, int(permission))))
    workspace_level = {
        Permission.ADMIN: Permission.ADMIN,
        Permission.WRITE: Permission.READ,  # a member
    }.get(level, Permission.NONE)
    setup = PageSetup(
        host_base_url=settings.base_url,
        viewer_uuid=viewer_uuid,
        csrf_token=csrf.token_for(request, settings),
        objects=objects,
        principal=_principal_factory(session, urls),
        evaluation=EvaluationContext(
            logged_in=viewer_id is not None,
            repo_permission=level,
            workspace_permission=workspace_level,
            repo_private=ctx.repo.is_private,
            scm="git",
            file_exists=file_exists,
        ),
        addon_page_urls={
            "adminPages": lambda app, mod: _join(f"/{ws_slug}/{repo_slug}/admin/addon", app, mod),
            "*": lambda app, mod: _join(f"/{ws_slug}/{repo_slug}/addon", app, mod),
        },
        addon_page_template=f"/{ws_slug}/{repo_slug}/addon/{{app_key}}/{{module_key}}",
        page_target="repository",
        page_context={"repository": f"{ws_slug}/{repo_slug}"},
        linker_values=_linker_values(request, session),
        consent=_consent(session, settings, viewer_id),
        debug=level >= Permission.ADMIN,
    )
    page = PageModules(apps, setup)
    request.state.page_modules = page
    return page


ADMIN_ROLES = frozenset({"admin", "owner"})


def account_addon_urls(workspace: Workspace) -> dict[str, AddonPageUrl]:
    """Where an account's full-page modules live: settings pages and profile tabs."""
    slug = workspace.slug
    settings_base = (
        "/account/settings/addon"
        if workspace.kind == "personal"
        else f"/{slug}/workspace/settings/addon"
    )
    return {
        "adminPages": lambda app, mod: _join(settings_base, app, mod),
        "profileTabs": lambda app, mod: _join(f"/{slug}/workspace/profile/addon", app, mod),
    }


def account_page(
    request: Request,
    session: Session,
    settings: Settings,
    workspace: Workspace,
    viewer: ViewerView | None,
    *,
    store: bool = True,
) -> PageModules:
    """The modules of an account page (its settings, its profile): the apps installed on
    ``workspace``. ``target_user`` is the user of a personal account. ``store``: keep them as
    this page's modules (``request.state.page_modules``); a settings sidebar does not."""
    urls = Urls(settings.base_url)
    service = UiModuleService(session, settings.secret)
    accounts = AccountStore(session)
    workspace_id = workspace.id
    viewer_id = viewer.id if viewer else None
    membership = accounts.membership(workspace_id, viewer_id) if viewer_id else None
    role = membership.role if membership else None

    def apps() -> list[AppModules]:
        return service.for_account(workspace_id)

    def objects() -> dict[str, Any]:
        found: dict[str, Any] = {
            "workspace": account_schemas.workspace_read(workspace, urls).model_dump(mode="json")
        }
        user = _viewer_json(session, viewer_id, urls)
        if user is not None:
            found["user"] = user
        if workspace.kind == "personal" and workspace.owner_user_id is not None:
            target = _viewer_json(session, workspace.owner_user_id, urls)
            if target is not None:
                found["target_user"] = target
        return found

    level = (
        Permission.ADMIN
        if role in ADMIN_ROLES
        else (Permission.READ if role is not None else Permission.NONE)
    )
    setup = PageSetup(
        host_base_url=settings.base_url,
        viewer_uuid=viewer.uuid if viewer else None,
        csrf_token=csrf.token_for(request, settings),
        objects=objects,
        principal=_principal_factory(session, urls),
        evaluation=EvaluationContext(logged_in=viewer_id is not None, workspace_permission=level),
        addon_page_urls=account_addon_urls(workspace),
        consent=_consent(session, settings, viewer_id),
        page_target="workspace",
        page_context={"workspace": workspace.slug},
        debug=level >= Permission.ADMIN,
    )
    page = PageModules(apps, setup)
    if store:
        request.state.page_modules = page
    return page


def current(request: Request) -> PageModules | None:
    """The page's modules, when the view built them."""
    found = getattr(request.state, "page_modules", None)
    return found if isinstance(found, PageModules) else None


def repository_nav(request: Request, repo: Any) -> list[dict[str, Any]]:
    """``app.state.repo_nav`` entry: the repoPages of this page's apps (links to their full
    page) and the webItems at ``org.bitbucket.repository.navigation``."""
    page = current(request)
    if page is None:
        return []
    items = page.at(NAVIGATION, module_types={"repoPages", "webItems"}, page_links=True)
    if getattr(repo, "can_admin", False):
        items = items + page.at(REPOSITORY_ADMIN, module_types={"adminPages"}, page_links=True)
    entries = []
    for module in items:
        href = module.url if module.kind != "dialog" else "#"
        entries.append(
            {
                "key": f"addon:{module.app_key}:{module.module_key}",
                "label": module.name,
                # repo_nav_items runs str.format over hrefs: keep app-supplied braces literal
                "href": href.replace("{", "{{").replace("}", "}}"),
                "icon": "addon",
                "module": module,
            }
        )
    return entries


# -- full pages ----------------------------------------------------------------------------------

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
# fixed paths that would otherwise match /{workspace}/{repo_slug}/addon/...: included first
account_router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


def attach_repository_page(
    request: Request,
    session: Session,
    settings: Settings,
    ctx: RepoContext,
    permission: int,
    viewer: ViewerView | None,
) -> PageModules:
    """``app.state.page_modules``: the hook repository and pull request views call."""
    return repository_page(
        request,
        session,
        settings,
        ctx,
        permission,
        viewer.id if viewer else None,
        viewer_uuid=viewer.uuid if viewer else None,
    )


def _render_repository_module(
    request: Request, repo: Any, page: PageModules, module: RenderedModule, active: str
) -> Response:
    """One app module as a full page in the repository layout, ``active`` in its navigation."""
    response = render(
        request,
        "connect/repo_page.html",
        {
            "repo": repo,
            "nav": repo_nav_items(request, repo, active),
            "active": active,
            "module": module,
            "connect": page,
        },
    )
    return page.apply(response)


@router.get("/{workspace}/{repo_slug}/addon/{app_key}/{module_key}", response_class=HTMLResponse)
def repository_addon_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    app_key: str,
    module_key: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    """A ``repoPages`` module full page, in the repository layout."""
    svc = RepoService(db, settings)
    subject = viewer_subject(viewer)
    ctx = svc.get(workspace, repo_slug, subject, RepoPermission.READ)
    perm = svc.permission_of(subject, ctx.repo)
    repo = repo_view(ctx, perm, settings.base_url)
    page = attach_repository_page(request, db, settings, ctx, int(perm), viewer)
    module = page.one(app_key, module_key, {"repoPages", "webItems"})
    if module is None:
        raise NotFound(f"no app page {app_key}/{module_key} on repository {ctx.full_name}")
    return _render_repository_module(request, repo, page, module, f"addon:{app_key}:{module_key}")


@router.get(
    "/{workspace}/{repo_slug}/admin/addon/{app_key}/{module_key}", response_class=HTMLResponse
)
def repository_admin_page(
    request: Request,
    workspace: str,
    repo_slug: str,
    app_key: str,
    module_key: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    """An ``adminPages`` module of the repository settings (repository admins only)."""
    svc = RepoService(db, settings)
    subject = viewer_subject(viewer)
    ctx = svc.get(workspace, repo_slug, subject, RepoPermission.READ)
    perm = svc.permission_of(subject, ctx.repo)
    if perm < RepoPermission.ADMIN:
        raise NotFound(f"repository {ctx.full_name} has no settings you can change")
    repo = repo_view(ctx, perm, settings.base_url)
    page = attach_repository_page(request, db, settings, ctx, int(perm), viewer)
    module = page.one(app_key, module_key, {"adminPages"})
    if module is None or module.location != REPOSITORY_ADMIN:
        raise NotFound(f"no settings page {app_key}/{module_key} on repository {ctx.full_name}")
    return _render_repository_module(request, repo, page, module, f"addon:{app_key}:{module_key}")


# -- account pages -------------------------------------------------------------------------------


def _settings_nav_entries(page: PageModules) -> list[dict[str, Any]]:
    return [
        {"key": f"addon:{m.app_key}:{m.module_key}", "label": m.name, "href": m.url}
        for m in page.at(ACCOUNT_ADMIN, module_types={"adminPages"}, page_links=True)
    ]


def settings_nav(request: Request, slug: str | None = None) -> list[dict[str, Any]]:
    """Settings sidebar entries for the adminPages of the apps on an account: the workspace
    ``slug``, or the viewer's own account. Only for the account's administrators. Used by
    ``templates/workspace/settings_nav.html`` and ``account/settings_nav.html``."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None:
        return []
    state = request.app.state
    session = state.read_session_factory()
    try:
        accounts = AccountStore(session)
        ws = (
            accounts.workspace_by_slug(slug)
            if slug is not None
            else accounts.personal_workspace(viewer.id)
        )
        membership = accounts.membership(ws.id, viewer.id) if ws is not None else None
        if ws is None or membership is None or membership.role not in ADMIN_ROLES:
            return []
        page = account_page(request, session, state.settings, ws, viewer, store=False)
        return _settings_nav_entries(page)
    finally:
        session.close()


def _admin_account(db: Session, viewer: ViewerView, slug: str | None) -> Workspace:
    accounts = AccountStore(db)
    ws = (
        accounts.workspace_by_slug(slug)
        if slug is not None
        else accounts.personal_workspace(viewer.id)
    )
    membership = accounts.membership(ws.id, viewer.id) if ws is not None else None
    if ws is None or membership is None or membership.role not in ADMIN_ROLES:
        raise NotFound(f"workspace {slug or viewer.username!r} not found")
    return ws


def _account_admin_page(
    request: Request,
    db: Session,
    settings: Settings,
    viewer: ViewerView,
    ws: Workspace,
    app_key: str,
    module_key: str,
) -> Response:
    page = account_page(request, db, settings, ws, viewer)
    module = page.one(app_key, module_key, {"adminPages"})
    if module is None or module.location != ACCOUNT_ADMIN:
        raise NotFound(f"no settings page {app_key}/{module_key} on account {ws.slug}")
    response = render(
        request,
        "connect/account_page.html",
        {
            "scope_kind": "account" if ws.kind == "personal" else "workspace",
            "ws": {"slug": ws.slug, "name": ws.name, "kind": ws.kind},
            "active": f"addon:{app_key}:{module_key}",
            "module": module,
            "connect": page,
        },
    )
    return page.apply(response)


@router.get(
    "/{workspace}/workspace/settings/addon/{app_key}/{module_key}", response_class=HTMLResponse
)
def workspace_admin_page(
    request: Request,
    workspace: str,
    app_key: str,
    module_key: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    """An ``adminPages`` module in a workspace's settings (its administrators only)."""
    ws = _admin_account(db, viewer, workspace)
    return _account_admin_page(request, db, settings, viewer, ws, app_key, module_key)


@account_router.get("/account/settings/addon/{app_key}/{module_key}", response_class=HTMLResponse)
def account_admin_page(
    request: Request,
    app_key: str,
    module_key: str,
    viewer: LoggedIn,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    """An ``adminPages`` module in the viewer's own account settings."""
    ws = _admin_account(db, viewer, None)
    return _account_admin_page(request, db, settings, viewer, ws, app_key, module_key)


# -- profile tabs --------------------------------------------------------------------------------


def _profile_tabs(page: PageModules) -> list[RenderedModule]:
    return page.at(None, module_types={"profileTabs"}, page_links=True)


def profile_tabs_fragment(request: Request, ws: Workspace, viewer_id: int | None) -> Markup:
    """``app.state.workspace_fragments``: the app tabs of a user or workspace profile page."""
    state = request.app.state
    viewer = getattr(request.state, "viewer", None)
    session = state.read_session_factory()
    try:
        page = account_page(request, session, state.settings, ws, viewer, store=False)
        tabs = _profile_tabs(page)
        if not tabs:
            return Markup("")
        html = templates.get_template("connect/_profile_tabs.html").render(
            tabs=tabs, ws_slug=ws.slug, active=None
        )
    finally:
        session.close()
    return Markup(html)  # noqa: S704 - a Jinja template (autoescaped)


@router.get(
    "/{workspace}/workspace/profile/addon/{app_key}/{module_key}", response_class=HTMLResponse
)
def profile_tab_page(
    request: Request,
    workspace: str,
    app_key: str,
    module_key: str,
    viewer: Viewer,
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    """A ``profileTabs`` module on a user's or a workspace's profile page (whoever can see it)."""
    svc = AccountService(db, settings.secret)
    ws, role = workspace_for_page(svc, workspace, viewer.id if viewer else None)
    page = account_page(request, db, settings, ws, viewer)
    module = page.one(app_key, module_key, {"profileTabs"})
    if module is None:
        raise NotFound(f"no profile tab {app_key}/{module_key} on {ws.slug}")
    response = render(
        request,
        "connect/profile_page.html",
        {
            "ws": {"slug": ws.slug, "name": ws.name, "kind": ws.kind, "role": role},
            "tabs": _profile_tabs(page),
            "ws_slug": ws.slug,
            "active": f"addon:{app_key}:{module_key}",
            "module": module,
            "connect": page,
        },
    )
    return page.apply(response)
