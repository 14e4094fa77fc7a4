"""``AP.proxyRequest``: an iframe asks the host to call the app's own server for it.

An app declares routes in its descriptor's ``proxy`` module (undocumented by Atlassian; used by
its Landkid app, connect-spec §2.1):

    "proxy": {"/land": {"destination": "/proxy/land?aaid={user.account_id}&pr={pullrequest.id}"}}

The iframe calls ``AP.proxyRequest({url: '/land', type: 'POST', data})``; host.js POSTs an
envelope to ``/site/connect/proxy/{app_key}/land`` (always POST + CSRF header, so even a proxied
GET cannot be triggered cross-site). The host then:

1. checks the viewer's session and that the installation named by the page serves the viewer
   and belongs to that app;
2. matches the path against the ``proxy`` keys (exact, or templates whose ``{name}`` segments
   match one path segment each and may be used by name in the destination);
3. fills the destination's context parameters from the page's objects (the viewer, the
   repository and pull request the page shows, as the REST API returns them; roots gated by the
   installation's scopes like iframe URLs), joins it to the app's ``baseUrl`` (never outside it),
   appends the call's query string;
4. signs it with a host → app JWT (``iss`` = ``aud`` = clientKey, ``sub`` = the viewer, ``qsh``
   over the method and the destination relative to the ``baseUrl`` path) in
   ``Authorization: JWT``, forwards only ``Accept``/``Content-Type``/``If-*`` headers and the
   body, and returns the app's status, body and content type with ``X-Appdock-Proxy: 1``.

No user grant is needed: the app's server learns nothing it did not learn from its iframe's JWT,
and nothing acts on this host as the viewer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy.orm import Session

from appdock.account import schemas as account_schemas
from appdock.account.service import AccountService
from appdock.config import Settings
from appdock.connect.jwt import sign_host_token
from appdock.connect.service import granted_scopes, shared_secret_of
from appdock.connect.ui.context import PageObjects, substitute
from appdock.connect.ui.grants import GrantService
from appdock.connect.ui.signing import inside_base, join_app_url
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.scopes import Scope, closure
from appdock.core.subject import AuthSubject
from appdock.core.urls import Urls
from appdock.pullrequest import schemas as pr_schemas
from appdock.pullrequest.service import PullRequestService
from appdock.repo import schemas as repo_schemas
from appdock.repo.service import RepoService

PROXY_HEADER = "X-Appdock-Proxy"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
FORWARDED_HEADERS = frozenset(
    {"accept", "content-type", "if-match", "if-none-match", "if-modified-since"}
)
RETURNED_HEADERS = frozenset({"etag", "last-modified", "cache-control"})
MAX_BODY = 1024 * 1024
_SEGMENT = re.compile(r"\{([A-Za-z0-9_]+)\}")


def proxy_routes(descriptor: Mapping[str, Any]) -> dict[str, str]:
    """The ``proxy`` module of a stored descriptor: path (template) → destination template."""
    modules = descriptor.get("modules")
    raw = modules.get("proxy") if isinstance(modules, Mapping) else None
    if not isinstance(raw, Mapping):
        return {}
    routes: dict[str, str] = {}
    for path, spec in raw.items():
        destination = spec.get("destination") if isinstance(spec, Mapping) else None
        if isinstance(path, str) and isinstance(destination, str):
            routes[path] = destination
    return routes


def match_route(routes: Mapping[str, str], path: str) -> tuple[str, dict[str, str]] | None:
    """The destination template for ``path`` and the values of its ``{name}`` segments.
    Exact keys win over templates; a template segment matches exactly one path segment."""
    if path in routes:
        return routes[path], {}
    wanted = path.split("/")
    for key, destination in sorted(routes.items()):
        parts = key.split("/")
        if len(parts) != len(wanted) or not _SEGMENT.search(key):
            continue
        values: dict[str, str] = {}
        for pattern, actual in zip(parts, wanted, strict=True):
            whole = _SEGMENT.fullmatch(pattern)
            if whole and actual:
                values[whole.group(1)] = unquote(actual)
            elif pattern != actual:
                break
        else:
            return destination, values
    return None


@dataclass(frozen=True)
class ProxyCall:
    """What host.js sends for one ``AP.proxyRequest`` (plain data from the browser)."""

    method: str
    url: str  # path below the app's proxy map, with an optional query: /land?x=1
    headers: Mapping[str, str]
    body: str | None
    context: Mapping[str, Any]  # the page's identifiers: {"repository": "ws/repo", ...}

    @classmethod
    def parse(cls, data: Any) -> ProxyCall:
        if not isinstance(data, Mapping):
            raise BadRequest("body: expected a JSON object {method, url, headers, body}")
        method = str(data.get("method") or "GET").upper()
        if method not in METHODS:
            raise BadRequest(f"method: {method} is not allowed", field="method")
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
            raise BadRequest("url: must be a path such as /land", field="url")
        headers = data.get("headers") if isinstance(data.get("headers"), Mapping) else {}
        body = data.get("body")
        if body is not None and not isinstance(body, str):
            raise BadRequest("body: must be a string or null", field="body")
        context = data.get("context") if isinstance(data.get("context"), Mapping) else {}
        return cls(
            method=method,
            url=url,
            headers={str(k): str(v) for k, v in (headers or {}).items()},
            body=body,
            context=context or {},
        )


@dataclass(frozen=True)
class ProxyPlan:
    """The request to send to the app (plain data; no database needed to send it)."""

    app_name: str
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None


def plan(
    *,
    call: ProxyCall,
    routes: Mapping[str, str],
    base_url: str,
    client_key: str,
    shared_secret: str,
    scopes: frozenset[Scope],
    objects: PageObjects,
    viewer_uuid: str | None,
    app_name: str = "",
    now: int | None = None,
) -> ProxyPlan:
    """Pure part of the proxy: match, fill, join, sign."""
    parts = urlsplit(call.url)
    path = parts.path or "/"
    matched = match_route(routes, path)
    if matched is None:
        declared = ", ".join(sorted(routes)) or "none"
        raise NotFound(
            f"proxyRequest: no proxy route matches {path!r} (the app declares: {declared})"
        )
    template, values = matched

    def segment(found: re.Match[str]) -> str:
        name = found.group(1)
        return quote(values[name], safe="") if name in values else found.group(0)

    filled = substitute(_SEGMENT.sub(segment, template), objects, scopes).url
    url = join_app_url(base_url, filled)
    if not inside_base(url, base_url):
        raise Forbidden(f"proxyRequest: the destination of {path!r} leaves the app's baseUrl")
    if parts.query:
        url += ("&" if urlsplit(url).query else "?") + parts.query
    headers = {k: v for k, v in call.headers.items() if k.lower() in FORWARDED_HEADERS}
    token = sign_host_token(
        client_key=client_key,
        shared_secret=shared_secret,
        method=call.method,
        url=url,
        base_path=urlsplit(base_url).path,
        subject=viewer_uuid,
        now=now,
    )
    headers["Authorization"] = "JWT " + token
    content = call.body.encode() if call.body is not None else None
    return ProxyPlan(app_name or "the app", call.method, url, headers, content)


class ProxyService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.urls = Urls(settings.base_url)

    def prepare(self, *, app_key: str, client_key: str, user_id: int, call: ProxyCall) -> ProxyPlan:
        """Check the caller and build the plan for ``call`` from the app ``app_key``'s iframe
        (installation ``client_key``) viewed by ``user_id``."""
        inst = GrantService(self.session, self.settings.secret).installation_for(
            client_key, user_id
        )
        if inst.app_key != app_key:
            raise Forbidden(
                f"installation {client_key!r} belongs to app {inst.app_key!r}, not {app_key!r}"
            )
        routes = proxy_routes(inst.descriptor)
        if not routes:
            raise NotFound(f"proxyRequest: {inst.name} declares no proxy module")
        scopes = closure(granted_scopes(inst))
        user = AccountService(self.session, self.settings.secret).user_by_id(user_id)
        return plan(
            call=call,
            routes=routes,
            base_url=inst.base_url,
            client_key=inst.client_key,
            shared_secret=shared_secret_of(self.settings.secret, inst),
            scopes=scopes,
            objects=self._objects(call.context, user_id),
            viewer_uuid=user.uuid,
            app_name=inst.name,
        )

    def _objects(self, context: Mapping[str, Any], user_id: int) -> dict[str, Any]:
        """The page's objects as the REST API shows them to the viewer (hidden ones omitted)."""
        accounts = AccountService(self.session, self.settings.secret)
        user = accounts.user_by_id(user_id)
        objects: dict[str, Any] = {
            "user": account_schemas.user_read(user, self.urls).model_dump(mode="json")
        }
        viewer = AuthSubject(kind="session", user_id=user.id, username=user.username)
        full_name = context.get("repository")
        if not isinstance(full_name, str) or "/" not in full_name:
            return objects
        ws_slug, _, repo_slug = full_name.partition("/")
        try:
            repo = RepoService(self.session, self.settings).get(ws_slug, repo_slug, viewer)
        except NotFound:
            return objects
        objects["repository"] = repo_schemas.repository_read(repo, self.urls).model_dump(
            mode="json"
        )
        number = context.get("pullrequest")
        if isinstance(number, int | str) and str(number).isdigit():
            try:
                pr = PullRequestService(self.session, self.settings).get(repo, int(number))
            except NotFound:
                return objects
            objects["pullrequest"] = pr_schemas.pullrequest_read(pr, self.urls).model_dump(
                mode="json"
            )
        return objects
