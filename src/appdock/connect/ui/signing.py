"""Module URLs: the app's base URL + the module URL, context parameters filled, bridge
parameters added, and a fresh host → app ``jwt`` (connect-spec.md §6.2).

Invariants:

* the token is minted only for URLs inside the app's ``baseUrl`` (same origin and path prefix):
  a module URL pointing anywhere else never receives a token signed with the app's secret;
* ``qsh`` covers ``GET``, the path relative to the ``baseUrl`` path and every query parameter
  except ``jwt``, exactly as the URL is sent (apps recompute it from the request they receive);
* ``xdm_e`` is the host's origin; ``xdm_c`` and ``cp`` are what older bridge scripts expect;
* a token is reused for the same URL, credentials and viewer for at most
  :data:`TOKEN_REUSE_SECONDS` (:class:`TokenCache`), never past a third of its lifetime.

    >>> url = build_module_url(ModuleUrlRequest(
    ...     base_url="https://app.example.com/bb", module_url="/panel?r={repository.uuid}",
    ...     module_key="panel", client_key="ck", shared_secret="s", authentication="jwt",
    ...     scopes=frozenset({Scope.REPOSITORY}), objects={"repository": {"uuid": "{1}"}},
    ...     host_base_url="https://git.example.com", viewer_uuid=None), now=0).url
    >>> url.startswith("https://app.example.com/bb/panel?r=%7B1%7D&xdm_e=https%3A%2F%2Fgit")
    True
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from appdock.connect.jwt import sign_host_token
from appdock.connect.ui.context import DroppedParameter, PageObjects, substitute
from appdock.core.scopes import Scope

Authentication = Literal["jwt", "none"]

BRIDGE_PARAMS = ("xdm_e", "xdm_c", "cp", "jwt")


@dataclass(frozen=True)
class ModuleUrlRequest:
    base_url: str  # the app's descriptor baseUrl
    module_url: str  # the module's url template (relative to base_url, or absolute)
    module_key: str
    client_key: str
    shared_secret: str
    authentication: Authentication
    scopes: frozenset[Scope]  # the installation's scope closure
    objects: PageObjects  # REST 2.0 dicts of the page (the context parameter roots)
    host_base_url: str  # appdock's BASE_URL
    viewer_uuid: str | None  # "{...}" of the viewer, None when anonymous
    extra_params: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ModuleUrl:
    url: str
    origin: str  # scheme://host[:port] of url, for frame-src
    signed: bool
    inside_app: bool  # url is under the app's baseUrl
    dropped: tuple[DroppedParameter, ...]


TOKEN_REUSE_SECONDS = 30
"""A token minted for the same URL, credentials and viewer is reused this long (tokens live
180 s, so a reused one still has at least 150 s left when the page is served)."""

_TokenKey = tuple[str, str, str, str, str | None]


class TokenCache:
    """Recently minted host → app tokens by (unsigned URL, base path, clientKey, secret,
    viewer): a page viewed again within :data:`TOKEN_REUSE_SECONDS` is not signed again. The
    key holds everything the token covers, so a changed URL, secret or viewer mints anew."""

    def __init__(self, size: int = 4096, reuse: float = TOKEN_REUSE_SECONDS) -> None:
        self.size = size
        self.reuse = reuse
        self._data: OrderedDict[_TokenKey, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _TokenKey) -> str | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.reuse:
                del self._data[key]
                return None
            return found[1]

    def put(self, key: _TokenKey, token: str) -> None:
        with self._lock:
            self._data[key] = (time.monotonic(), token)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


TOKENS = TokenCache()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc)


def inside_base(url: str, base_url: str) -> bool:
    """Whether ``url`` is the app's base URL or below it (same origin, path prefix)."""
    if origin_of(url) != origin_of(base_url) or not origin_of(url):
        return False
    base_path = urlsplit(base_url).path.rstrip("/")
    path = urlsplit(url).path
    return not base_path or path == base_path or path.startswith(base_path + "/")


def join_app_url(base_url: str, module_url: str) -> str:
    """``baseUrl`` + module URL: relative URLs append to the base path (as Connect does),
    absolute URLs stay as they are."""
    if _is_absolute(module_url):
        return module_url
    if module_url.startswith("//"):
        return urljoin(base_url, module_url)
    return base_url.rstrip("/") + "/" + module_url.lstrip("/")


def host_origin(host_base_url: str) -> str:
    return origin_of(host_base_url)


def build_module_url(request: ModuleUrlRequest, *, now: int | None = None) -> ModuleUrl:
    substituted = substitute(request.module_url, request.objects, request.scopes)
    url = join_app_url(request.base_url, substituted.url)
    inside = inside_base(url, request.base_url)
    if not inside:
        # Links out of the app (absolute webItem URLs) get neither bridge params nor a token.
        return ModuleUrl(url, origin_of(url), False, False, substituted.dropped)

    parts = urlsplit(url)
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in BRIDGE_PARAMS
    ]
    extra_names = {k for k, _ in request.extra_params}
    kept = [(k, v) for k, v in kept if k not in extra_names]
    host_path = urlsplit(request.host_base_url).path.rstrip("/")
    bridge = [
        ("xdm_e", host_origin(request.host_base_url)),
        ("xdm_c", "channel-" + request.module_key),
        ("cp", host_path),
        *request.extra_params,
    ]
    query = urlencode(kept + bridge, quote_via=quote)
    unsigned = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
    if request.authentication != "jwt":
        return ModuleUrl(unsigned, origin_of(unsigned), False, True, substituted.dropped)
    base_path = urlsplit(request.base_url).path
    key = (unsigned, base_path, request.client_key, request.shared_secret, request.viewer_uuid)
    token = TOKENS.get(key) if now is None else None
    if token is None:
        token = sign_host_token(
            client_key=request.client_key,
            shared_secret=request.shared_secret,
            method="GET",
            url=unsigned,
            base_path=base_path,
            subject=request.viewer_uuid,
            now=now,
        )
        if now is None:
            TOKENS.put(key, token)
    signed = unsigned + "&jwt=" + quote(token, safe="")
    return ModuleUrl(signed, origin_of(signed), True, True, substituted.dropped)
