"""The Connect app descriptor: a typed model of every Bitbucket module type, and its lint.

:func:`lint_descriptor` takes parsed JSON and returns a :class:`LintResult` with the problems it
found, each naming a JSON path (``modules.webPanels[0].location: unknown location
"org.bitbucket.foo"``), and, when there are no errors, the typed :class:`Descriptor`.

What is an error (the app cannot be installed) and what is a warning (it can; the part is ignored):

- errors: not an object; missing or mistyped required fields (``key``, ``name``, ``baseUrl``,
  ``authentication``); a bad app key; a base URL that is not absolute http(s) (or not https when
  https is required); an unknown scope (in ``scopes`` or ``oauthConsumer.scopes``); a module that
  does not fit its type; a bad or duplicate module key; a location not allowed for its module
  type; a URL over 2048 characters or with unbalanced braces; more than one configure page;
- warnings: unknown top-level fields, unknown module types, legacy singular module names
  (``webPanel``...), unknown contexts, the deprecated ``personal`` context, unknown webhook events,
  unknown condition names, no ``installed`` lifecycle URL, ``apiMigrations``.

Defaults applied (connect-spec §1.1): ``authentication.type`` is compared case-insensitively
(Sentry sends ``"JWT"``); missing ``contexts`` means ``["account"]``; missing ``scopes`` means the
app needs **all** scopes (:attr:`Descriptor.requested_scopes`); a one-element ``configurePage``
array is the page itself.

Using a parsed descriptor::

    d = parse_descriptor(data)                      # raises DescriptorError on errors
    for panel in d.modules.web_panels:              # typed lists per module type
        panel.key, panel.location, panel.url, panel.conditions
    d.resolve_url(panel.url)                        # absolute URL under baseUrl
    for kind, module in d.modules.all():            # ("webPanels", WebPanel(...)), ...
        ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from appdock.core.errors import BadRequest
from appdock.core.scopes import ALL_SCOPES, Scope, UnknownScope, parse_scope

APP_KEY = re.compile(r"^[a-zA-Z0-9\-._]+$")
APP_KEY_MAX = 80
MODULE_KEY = re.compile(r"^[a-zA-Z0-9-]+$")
MODULE_KEY_MAX = 128
URL_MAX = 2048
EVENT_MAX = 64

KNOWN_TOP_LEVEL = frozenset(
    {
        "key",
        "name",
        "description",
        "vendor",
        "baseUrl",
        "authentication",
        "lifecycle",
        "scopes",
        "contexts",
        "modules",
        "links",
        "definitions",
        "forgeAppLink",
        "forgeAppId",
        "apiVersion",
        "enableLicensing",
        "apiMigrations",
        "version",
        "icon",
    }
)
KNOWN_CONTEXTS = frozenset({"account", "personal"})
LIFECYCLE_EVENTS = frozenset({"installed", "uninstalled", "enabled", "disabled"})

WEBHOOK_EVENTS = frozenset(
    {
        "*",
        "issue:comment_created",
        "issue:created",
        "issue:updated",
        "project:updated",
        "pullrequest:approved",
        "pullrequest:unapproved",
        "pullrequest:changes_request_created",
        "pullrequest:changes_request_removed",
        "pullrequest:comment_created",
        "pullrequest:comment_deleted",
        "pullrequest:comment_updated",
        "pullrequest:comment_reopened",
        "pullrequest:comment_resolved",
        "pullrequest:created",
        "pullrequest:updated",
        "pullrequest:fulfilled",
        "pullrequest:rejected",
        "pullrequest:superseded",
        "pullrequest:push",
        "repo:commit_comment_created",
        "repo:commit_status_created",
        "repo:commit_status_updated",
        "repo:created",
        "repo:deleted",
        "repo:fork",
        "repo:imported",
        "repo:push",
        "repo:transfer",
        "repo:updated",
    }
)

CONDITIONS = frozenset(
    {
        "scm",
        "is_repo_private",
        "user_has_premium",
        "has_file",
        "contains",
        "user_is_logged_in",
        "equals",
        "flag_is_active",
        "property_exists",
        "has_account_permission",
        "has_workspace_permission",
        "has_addon",
        "has_permission",
        "meets_access_requirements",
        "has_issue_permission",
        "has_feature",
        "is_binary",
    }
)

# Locations per module type (connect-spec §2.1). Generous where the spec is unsure, never open.
WEB_PANEL_LOCATIONS = frozenset(
    {
        "org.bitbucket.repository.overview.informationPanel",
        "org.bitbucket.pullrequest.overview.informationPanel",
        "org.bitbucket.account.admin.mirror.config",
    }
)
WEB_ITEM_LOCATIONS = frozenset(
    {
        "org.bitbucket.account.admin.mirror.config.actions",
        "org.bitbucket.addon.management",
        "org.bitbucket.branch.list.actions",
        "org.bitbucket.branch.summary.actions",
        "org.bitbucket.branch.summary.info",
        "org.bitbucket.commit.summary.actions",
        "org.bitbucket.commit.summary.info",
        "org.bitbucket.pullrequest.summary.actions",
        "org.bitbucket.pullrequest.summary.info",
        "org.bitbucket.repository.actions",
        "org.bitbucket.repository.navigation",
    }
)
REPO_PAGE_LOCATIONS = frozenset(
    {"org.bitbucket.repository.navigation", "org.bitbucket.repository.actions"}
)
ADMIN_PAGE_LOCATIONS = frozenset(
    {
        "org.bitbucket.repository.admin",
        "org.bitbucket.account.admin",
        "org.bitbucket.workspace.admin",
        "org.bitbucket.team.admin",
    }
)
WEB_SECTION_LOCATIONS = WEB_ITEM_LOCATIONS | REPO_PAGE_LOCATIONS | ADMIN_PAGE_LOCATIONS
WEB_CARD_LOCATIONS = frozenset(
    {
        "org.bitbucket.pullrequest",
        "org.bitbucket.source",
        "org.bitbucket.repository",
        "org.bitbucket.commit",
        "org.bitbucket.branch",
    }
)

LEGACY_NAMES = {
    "webhook": "webhooks",
    "webItem": "webItems",
    "webPanel": "webPanels",
    "webSection": "webSections",
    "repoPage": "repoPages",
    "adminPage": "adminPages",
    "profileTab": "profileTabs",
    "fileView": "fileViews",
    "linker": "linkers",
    "generalPage": "generalPages",
    "webCard": "webCards",
}


# models ------------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Text(_Model):
    value: str
    i18n: str | None = None


class Icon(_Model):
    url: str
    width: int | None = None
    height: int | None = None


class Condition(_Model):
    """A simple condition (``condition``) or a composition (``type`` and ``conditions``)."""

    condition: str | None = None
    invert: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    target: str | None = None
    type: str | None = None
    conditions: list[Condition] | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in ("and", "or"):
            raise ValueError(f'composition type must be "and" or "or", not {value!r}')
        return value.lower() if value else value

    @property
    def is_composition(self) -> bool:
        return self.condition is None


class WebModule(_Model):
    """Fields shared by the iframe and link modules."""

    key: str
    name: Text
    url: str
    location: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    weight: int | None = None
    icon: Icon | None = None
    tooltip: Text | None = None


class WebPanel(WebModule):
    location: str


class WebItemTarget(_Model):
    type: str = "page"
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _target_type(cls, value: str) -> str:
        if value.lower() not in ("page", "dialog", "inlinedialog"):
            raise ValueError(f'must be "page", "dialog" or "inlinedialog", not {value!r}')
        return value.lower()


class WebItem(WebModule):
    location: str
    target: WebItemTarget | None = None
    context: str | None = None


class WebSection(_Model):
    key: str
    name: Text
    location: str
    weight: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    tooltip: Text | None = None


class RepoPage(WebModule):
    location: str = "org.bitbucket.repository.navigation"


class AdminPage(WebModule):
    location: str = "org.bitbucket.repository.admin"


class ConfigurePage(WebModule):
    pass


class ProfileTab(WebModule):
    pass


class GeneralPage(WebModule):
    pass


class WebCard(WebModule):
    location: str


class FileMatches(_Model):
    extensions: list[str] = Field(default_factory=list)
    filenames: list[str] = Field(default_factory=list)


class FileView(WebModule):
    file_matches: FileMatches = Field(default_factory=FileMatches)


class Linker(_Model):
    key: str
    regex: str
    url: str
    type: Literal["href", "image"] = "href"
    name: Text | None = None


class Webhook(_Model):
    event: str
    url: str
    key: str | None = None


class OAuthConsumer(_Model):
    client_id: str = Field(alias="clientId")
    scopes: list[str] | None = None


class PostInstallRedirect(_Model):
    url: str
    key: str | None = None


class ProxyRoute(_Model):
    destination: str


class Modules(BaseModel):
    """Every module of an app, by type (plural names; singular legacy names are folded in)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    webhooks: list[Webhook] = Field(default_factory=list)
    web_items: list[WebItem] = Field(default_factory=list, alias="webItems")
    web_panels: list[WebPanel] = Field(default_factory=list, alias="webPanels")
    web_sections: list[WebSection] = Field(default_factory=list, alias="webSections")
    repo_pages: list[RepoPage] = Field(default_factory=list, alias="repoPages")
    admin_pages: list[AdminPage] = Field(default_factory=list, alias="adminPages")
    configure_page: ConfigurePage | None = Field(default=None, alias="configurePage")
    profile_tabs: list[ProfileTab] = Field(default_factory=list, alias="profileTabs")
    file_views: list[FileView] = Field(default_factory=list, alias="fileViews")
    linkers: list[Linker] = Field(default_factory=list)
    oauth_consumer: OAuthConsumer | None = Field(default=None, alias="oauthConsumer")
    post_install_redirect: PostInstallRedirect | None = Field(
        default=None, alias="postInstallRedirect"
    )
    proxy: dict[str, ProxyRoute] = Field(default_factory=dict)
    general_pages: list[GeneralPage] = Field(default_factory=list, alias="generalPages")
    web_cards: list[WebCard] = Field(default_factory=list, alias="webCards")
    # Unknown module types, kept as written (the app was warned; nothing renders them).
    unknown: dict[str, Any] = Field(default_factory=dict)

    def all(self) -> Iterator[tuple[str, BaseModel]]:
        """Every module with its descriptor type name, e.g. ``("webPanels", WebPanel(...))``."""
        for name, spec in MODULE_TYPES.items():
            value = getattr(self, spec.attr)
            if spec.shape == "list":
                for module in value:
                    yield name, module
            elif spec.shape == "object" and value is not None:
                yield name, value

    def keyed(self) -> Iterator[tuple[str, str, BaseModel]]:
        """``(type, key, module)`` for every module that has a key."""
        for name, module in self.all():
            key = getattr(module, "key", None)
            if isinstance(key, str):
                yield name, key, module

    def find(self, key: str) -> tuple[str, BaseModel] | None:
        for name, module_key, module in self.keyed():
            if module_key == key:
                return name, module
        return None

    def at_location(self, location: str) -> list[WebModule]:
        """The UI modules placed at ``location``, lightest ``weight`` first."""
        found = [m for _, m in self.all() if isinstance(m, WebModule) and m.location == location]
        return sorted(found, key=lambda m: (m.weight if m.weight is not None else 1000, m.key))


class Vendor(_Model):
    name: str | None = None
    url: str | None = None


class Authentication(_Model):
    type: Literal["jwt", "none"]

    @field_validator("type", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class Lifecycle(_Model):
    installed: str | None = None
    uninstalled: str | None = None
    enabled: str | None = None
    disabled: str | None = None


class Descriptor(BaseModel):
    """A validated descriptor. Build it with :func:`parse_descriptor`, not directly."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    key: str
    name: str
    description: str = ""
    vendor: Vendor | None = None
    base_url: str = Field(alias="baseUrl")
    authentication: Authentication
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    scopes: list[str] | None = None
    contexts: list[str] = Field(default_factory=lambda: ["account"])
    modules: Modules = Field(default_factory=Modules)
    links: dict[str, Any] = Field(default_factory=dict)

    @property
    def requested_scopes(self) -> frozenset[Scope]:
        """The scopes the app asks for; all of them when the descriptor names none."""
        if self.scopes is None:
            return ALL_SCOPES
        return frozenset(parse_scope(s) for s in self.scopes)

    @property
    def asks_all_scopes(self) -> bool:
        return self.scopes is None

    @property
    def uses_jwt(self) -> bool:
        return self.authentication.type == "jwt"

    @property
    def base_path(self) -> str:
        """The path of ``baseUrl`` (stripped from qsh paths of requests sent to the app)."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def vendor_name(self) -> str:
        return (self.vendor.name if self.vendor and self.vendor.name else "") or ""

    def resolve_url(self, url: str) -> str:
        """An absolute URL for a module, lifecycle or webhook URL: absolute ones stay, relative
        ones are appended to ``baseUrl`` (Connect joins, it does not resolve like a browser)."""
        if urlsplit(url).scheme:
            return url
        return self.base_url.rstrip("/") + "/" + url.lstrip("/")

    def lifecycle_url(self, event: str) -> str | None:
        value = getattr(self.lifecycle, event, None)
        return self.resolve_url(value) if isinstance(value, str) and value else None


# module type registry -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModuleSpec:
    attr: str
    model: type[BaseModel]
    shape: Literal["list", "object", "map"]
    locations: frozenset[str] | None = None  # None: location not checked


MODULE_TYPES: dict[str, ModuleSpec] = {
    "webhooks": ModuleSpec("webhooks", Webhook, "list"),
    "webItems": ModuleSpec("web_items", WebItem, "list", WEB_ITEM_LOCATIONS),
    "webPanels": ModuleSpec("web_panels", WebPanel, "list", WEB_PANEL_LOCATIONS),
    "webSections": ModuleSpec("web_sections", WebSection, "list", WEB_SECTION_LOCATIONS),
    "repoPages": ModuleSpec("repo_pages", RepoPage, "list", REPO_PAGE_LOCATIONS),
    "adminPages": ModuleSpec("admin_pages", AdminPage, "list", ADMIN_PAGE_LOCATIONS),
    "configurePage": ModuleSpec("configure_page", ConfigurePage, "object"),
    "profileTabs": ModuleSpec("profile_tabs", ProfileTab, "list"),
    "fileViews": ModuleSpec("file_views", FileView, "list"),
    "linkers": ModuleSpec("linkers", Linker, "list"),
    "oauthConsumer": ModuleSpec("oauth_consumer", OAuthConsumer, "object"),
    "postInstallRedirect": ModuleSpec("post_install_redirect", PostInstallRedirect, "object"),
    "proxy": ModuleSpec("proxy", ProxyRoute, "map"),
    "generalPages": ModuleSpec("general_pages", GeneralPage, "list"),
    "webCards": ModuleSpec("web_cards", WebCard, "list", WEB_CARD_LOCATIONS),
}


# lint --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class LintResult:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    descriptor: Descriptor | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))


class DescriptorError(BadRequest):
    """A descriptor with errors; ``problems`` lists them all, the message names the first few."""

    def __init__(self, problems: list[Problem], *, field: str | None = None) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the app descriptor is not valid: {shown}{more}", field=field)
        self.problems = problems


def load_json(text: str | bytes) -> Any:
    """Parse descriptor text; malformed JSON is a DescriptorError naming line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DescriptorError(
            [Problem("", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise DescriptorError([Problem("", f"the descriptor is not UTF-8 text ({exc})")]) from exc


def parse_descriptor(data: Any, *, require_https: bool = False) -> Descriptor:
    result = lint_descriptor(data, require_https=require_https)
    if result.descriptor is None:
        raise DescriptorError(result.errors)
    return result.descriptor


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


_PYDANTIC_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def _pydantic_problems(result: LintResult, base: str, exc: ValidationError) -> None:
    for err in exc.errors():
        path = base
        for part in err.get("loc", ()):
            if isinstance(part, int | str):
                path = _join(path, part)
        kind = err.get("type", "")
        if kind in _PYDANTIC_MESSAGES:
            message = _PYDANTIC_MESSAGES[kind]
        elif kind == "literal_error":
            expected = (err.get("ctx") or {}).get("expected", "")
            message = f"{json.dumps(err.get('input'))} is not one of {expected}"
        else:
            message = str(err.get("msg", "is not valid"))
            message = message.removeprefix("Value error, ")
            message = message[:1].lower() + message[1:]
        result.error(path, message)


def _check_url(result: LintResult, path: str, value: object) -> None:
    if not isinstance(value, str):
        return
    if len(value) > URL_MAX:
        result.error(path, f"is {len(value)} characters long; at most {URL_MAX} are allowed")
        return
    if any(ch.isspace() for ch in value):
        result.error(path, f"{json.dumps(value)} contains whitespace; it is not a valid URL")
        return
    depth = 0
    for ch in value:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth not in (0, 1):
            result.error(path, f"{json.dumps(value)} has unbalanced braces in its URI template")
            return
    if depth != 0:
        result.error(path, f"{json.dumps(value)} has unbalanced braces in its URI template")


def _check_scopes(result: LintResult, path: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        result.error(path, "must be an array of scope names")
        return
    for i, scope in enumerate(value):
        if not isinstance(scope, str):
            result.error(_join(path, i), "must be a string")
            continue
        try:
            parse_scope(scope)
        except UnknownScope:
            known = ", ".join(s.value for s in Scope)
            result.error(_join(path, i), f'unknown scope "{scope}" (known scopes: {known})')


def _check_conditions(result: LintResult, path: str, conditions: list[Condition]) -> None:
    for i, cond in enumerate(conditions):
        here = _join(path, i)
        if cond.condition is None:
            if not cond.type or cond.conditions is None:
                result.error(here, 'needs either "condition" or both "type" and "conditions"')
                continue
            _check_conditions(result, _join(here, "conditions"), cond.conditions)
        elif cond.condition not in CONDITIONS:
            result.warn(
                _join(here, "condition"),
                f'unknown condition "{cond.condition}"; it will be treated as false',
            )


def _base_url_checks(result: LintResult, value: object, require_https: bool) -> None:
    if not isinstance(value, str):
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        result.error("baseUrl", f"{json.dumps(value)} is not an absolute http(s) URL")
    elif parts.query or parts.fragment:
        result.error("baseUrl", f"{json.dumps(value)} must not have a query or fragment")
    elif require_https and parts.scheme != "https":
        result.error(
            "baseUrl",
            f"must use https (got {json.dumps(value)}); this host accepts http app URLs only "
            "when the operator allows them",
        )


def _module_items(
    result: LintResult, path: str, spec: ModuleSpec, value: object
) -> list[tuple[str, str, Any]]:
    """``(path, map key, raw module)`` of one module type, in the shape the spec wants."""
    if spec.shape == "map":
        if not isinstance(value, dict):
            result.error(path, "must be an object")
            return []
        return [(f'{path}["{k}"]', k, v) for k, v in value.items()]
    if spec.shape == "object":
        if isinstance(value, list):
            if len(value) > 1:
                result.error(path, f"at most one is allowed (got {len(value)})")
                return []
            return [(_join(path, 0), "", value[0])] if value else []
        return [(path, "", value)]
    if isinstance(value, dict):
        result.warn(path, "should be an array; a single object was accepted")
        return [(path, "", value)]
    if not isinstance(value, list):
        result.error(path, "must be an array")
        return []
    return [(_join(path, i), "", v) for i, v in enumerate(value)]


def _lint_modules(result: LintResult, raw: object) -> dict[str, Any]:
    """Validated modules in canonical form (plural names); problems go to ``result``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        result.error("modules", "must be an object of module type to modules")
        return {}
    out: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    keys_seen: dict[str, str] = {}
    located: list[tuple[str, ModuleSpec, str, str | None]] = []
    sections: list[WebSection] = []
    for raw_name, value in raw.items():
        written = str(raw_name)
        canonical: str = LEGACY_NAMES.get(written, written)
        if written in LEGACY_NAMES:
            result.warn(
                f"modules.{written}",
                f'legacy singular module name; accepted as "{canonical}"',
            )
        spec = MODULE_TYPES.get(canonical)
        if spec is None:
            result.warn(f"modules.{written}", "unknown module type; it will be ignored")
            unknown[written] = value
            continue
        for path, map_key, item in _module_items(result, f"modules.{written}", spec, value):
            try:
                module = spec.model.model_validate(item)
            except ValidationError as exc:
                _pydantic_problems(result, path, exc)
                continue
            if spec.shape == "map":
                out.setdefault(canonical, {})[map_key] = item
            elif spec.shape == "object":
                out[canonical] = item
            else:
                out.setdefault(canonical, []).append(item)
            _lint_module(result, path, canonical, spec, module, keys_seen, located)
            if isinstance(module, WebSection):
                sections.append(module)
    section_refs = {s.key for s in sections} | {f"{s.location}/{s.key}" for s in sections}
    for path, spec, location, _key in located:
        if spec.locations is None or location in spec.locations:
            continue
        if spec.model is WebItem and location in section_refs:
            continue
        result.error(_join(path, "location"), f'unknown location "{location}"')
    if unknown:
        out["unknown"] = unknown
    return out


def _lint_module(
    result: LintResult,
    path: str,
    kind: str,
    spec: ModuleSpec,
    module: BaseModel,
    keys_seen: dict[str, str],
    located: list[tuple[str, ModuleSpec, str, str | None]],
) -> None:
    key = getattr(module, "key", None)
    if isinstance(key, str):
        if not MODULE_KEY.match(key) or len(key) > MODULE_KEY_MAX:
            result.error(
                _join(path, "key"),
                f"{json.dumps(key)} is not a valid module key; use letters, digits and '-' "
                f"(at most {MODULE_KEY_MAX})",
            )
        elif key in keys_seen:
            result.error(_join(path, "key"), f'"{key}" is already the key of {keys_seen[key]}')
        else:
            keys_seen[key] = path
    location = getattr(module, "location", None)
    if isinstance(location, str) and spec.locations is not None:
        located.append((path, spec, location, key if isinstance(key, str) else None))
    for attr in ("url", "destination"):
        _check_url(result, _join(path, attr), getattr(module, attr, None))
    conditions = getattr(module, "conditions", None)
    if isinstance(conditions, list):
        _check_conditions(result, _join(path, "conditions"), conditions)
    if isinstance(module, Webhook):
        if len(module.event) > EVENT_MAX:
            result.error(_join(path, "event"), f"is longer than {EVENT_MAX} characters")
        elif module.event not in WEBHOOK_EVENTS:
            result.warn(
                _join(path, "event"),
                f'unknown event "{module.event}"; it will never be delivered',
            )
    if isinstance(module, Linker):
        try:
            re.compile(module.regex.replace("(?K)", r"([\w\-]+)"))
        except re.error as exc:
            result.error(_join(path, "regex"), f"is not a valid regular expression ({exc})")
    if isinstance(module, OAuthConsumer):
        _check_scopes(result, _join(path, "scopes"), module.scopes)
    del kind


def lint_descriptor(data: Any, *, require_https: bool = False) -> LintResult:
    """Every problem of a parsed descriptor, and the typed descriptor when there are no errors."""
    result = LintResult()
    if not isinstance(data, dict):
        result.error("", f"the descriptor must be a JSON object, not {type(data).__name__}")
        return result
    for key in data:
        if key not in KNOWN_TOP_LEVEL:
            result.warn(key, "unknown top-level field; it will be ignored")
    if "apiMigrations" in data:
        result.warn("apiMigrations", "Jira-only field; Bitbucket apps cannot use it; ignored")

    for required in ("key", "name", "baseUrl", "authentication"):
        if data.get(required) is None:
            result.error(required, "is required" if required not in data else "must not be null")
    key = data.get("key")
    if key is not None and not isinstance(key, str):
        result.error("key", "must be a string")
    elif isinstance(key, str) and (not APP_KEY.match(key) or len(key) > APP_KEY_MAX):
        result.error(
            "key",
            f"{json.dumps(key)} is not a valid app key; use letters, digits, '-', '.' and '_' "
            f"(at most {APP_KEY_MAX})",
        )
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        result.error("name", "must be a non-empty string")
    description = data.get("description")
    if description is None:
        result.warn("description", "is missing; people installing the app will see none")
    elif not isinstance(description, str):
        result.error("description", "must be a string")
    base_url = data.get("baseUrl")
    if base_url is not None and not isinstance(base_url, str):
        result.error("baseUrl", "must be a string")
    _base_url_checks(result, base_url, require_https)

    head: dict[str, Any] = {}
    parts: tuple[tuple[str, type[BaseModel]], ...] = (
        ("vendor", Vendor),
        ("authentication", Authentication),
        ("lifecycle", Lifecycle),
    )
    for part, model in parts:
        value = data.get(part)
        if value is None:
            continue
        try:
            model.model_validate(value)
            head[part] = value
        except ValidationError as exc:
            _pydantic_problems(result, part, exc)
    lifecycle = data.get("lifecycle")
    if isinstance(lifecycle, dict):
        for event, url in lifecycle.items():
            if event not in LIFECYCLE_EVENTS:
                result.warn(f"lifecycle.{event}", "unknown lifecycle event; it will be ignored")
            _check_url(result, f"lifecycle.{event}", url)
    if not (isinstance(lifecycle, dict) and lifecycle.get("installed")):
        result.warn(
            "lifecycle.installed",
            "is missing; the app will never receive its clientKey and sharedSecret",
        )

    _check_scopes(result, "scopes", data.get("scopes"))
    contexts = data.get("contexts")
    if contexts is not None:
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            result.error("contexts", "must be an array of strings")
            contexts = None
        else:
            for i, context in enumerate(contexts):
                if context == "personal":
                    result.warn(
                        f"contexts[{i}]",
                        'the "personal" context is deprecated; the app is installed on an '
                        "account like any other",
                    )
                elif context not in KNOWN_CONTEXTS:
                    result.warn(f"contexts[{i}]", f'unknown context "{context}"; ignored')
    links = data.get("links")
    if links is not None and not isinstance(links, dict):
        result.warn("links", "should be an object; ignored")
        links = None

    modules = _lint_modules(result, data.get("modules"))
    if result.errors:
        return result
    normalized: dict[str, Any] = {
        "key": key,
        "name": name,
        "description": description if isinstance(description, str) else "",
        "baseUrl": str(base_url).rstrip("/"),
        "modules": modules,
        "links": links or {},
        **head,
    }
    if data.get("scopes") is not None:
        normalized["scopes"] = [parse_scope(s).value for s in data["scopes"]]
    if contexts:
        normalized["contexts"] = contexts
    try:
        result.descriptor = Descriptor.model_validate(normalized)
    except ValidationError as exc:  # pragma: no cover - every part was validated above
        _pydantic_problems(result, "", exc)
    return result
