"""The AP bridge scripts, served from ``node_modules`` (installed by ``make install`` / npm ci).

* ``/atlassian-connect/all.js`` and ``all-debug.js``: what apps load in their iframes
  (``AC_HOST_SCRIPT_URL`` for atlassian-connect-express apps). atlassian-connect-js'
  ``dist/iframe.js`` followed by our small ``static/connect/plugin.js`` (the iframe half of the
  ``request``/``proxyRequest`` modules: callbacks inside an options object cannot cross
  postMessage, so the iframe side unwraps ``success``/``error``).
* ``/atlassian-connect/host/connect-host.js`` and ``/atlassian-connect/host/jquery.js``: the
  host half, loaded by ``templates/connect/scripts.html`` (connect-host.js expects jQuery as
  ``AJS.$``).

No built third-party file is committed: a checkout without ``node_modules`` answers 503 with the
command that fixes it. Responses carry an ETag and a one-hour public cache lifetime.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

STATIC_CONNECT = Path(__file__).resolve().parents[2] / "web" / "static" / "connect"
JS_TYPE = "text/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=3600"

# (URL name, files under node_modules / "static:" our static dir, in order)
_BUNDLES: dict[str, tuple[str, ...]] = {
    "all.js": ("atlassian-connect-js/dist/iframe.js", "static:plugin.js"),
    "all-debug.js": ("atlassian-connect-js/dist/iframe.js", "static:plugin.js"),
    "host/connect-host.js": ("atlassian-connect-js/dist/connect-host.js",),
    "host/jquery.js": ("jquery/dist/jquery.min.js",),
}


def default_node_modules() -> Path:
    """``$APPDOCK_NODE_MODULES_DIR``, else ``node_modules`` at the root of this checkout."""
    configured = os.environ.get("APPDOCK_NODE_MODULES_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / "node_modules"


@dataclass
class _Cached:
    key: tuple[tuple[str, float, int], ...]
    body: bytes
    etag: str


class BridgeAssets:
    """Reads and caches the bundles; re-reads when a file's mtime or size changes."""

    def __init__(self, node_modules: Path | None = None) -> None:
        self.node_modules = node_modules or default_node_modules()
        self._cache: dict[str, _Cached] = {}

    def _path(self, name: str) -> Path:
        if name.startswith("static:"):
            return STATIC_CONNECT / name.removeprefix("static:")
        return self.node_modules / name

    def load(self, bundle: str) -> _Cached | str:
        """The bundle, or a message naming the missing file."""
        paths = [self._path(n) for n in _BUNDLES[bundle]]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            return (
                f"The Atlassian Connect bridge is not installed: {missing[0]} is missing.\n"
                "Run `make install` (it runs `npm ci` at the repository root), or set "
                "APPDOCK_NODE_MODULES_DIR to a node_modules directory that holds "
                "atlassian-connect-js and jquery.\n"
            )
        key = tuple((str(p), p.stat().st_mtime, p.stat().st_size) for p in paths)
        cached = self._cache.get(bundle)
        if cached is None or cached.key != key:
            body = b"\n;\n".join(p.read_bytes() for p in paths)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            cached = _Cached(key, body, etag)
            self._cache[bundle] = cached
        return cached


def create_router(node_modules: Path | None = None) -> APIRouter:
    assets = BridgeAssets(node_modules)
    router = APIRouter(include_in_schema=False)

    def serve(bundle: str, request: Request) -> Response:
        loaded = assets.load(bundle)
        if isinstance(loaded, str):
            return PlainTextResponse(
                loaded, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "60"}
            )
        headers = {"Cache-Control": CACHE_CONTROL, "ETag": loaded.etag}
        if request.headers.get("if-none-match") == loaded.etag:
            return Response(status_code=304, headers=headers)
        return Response(loaded.body, media_type=JS_TYPE, headers=headers)

    @router.get("/atlassian-connect/all.js")
    def all_js(request: Request) -> Response:
        return serve("all.js", request)

    @router.get("/atlassian-connect/all-debug.js")
    def all_debug_js(request: Request) -> Response:
        return serve("all-debug.js", request)

    @router.get("/atlassian-connect/host/connect-host.js")
    def connect_host_js(request: Request) -> Response:
        return serve("host/connect-host.js", request)

    @router.get("/atlassian-connect/host/jquery.js")
    def jquery_js(request: Request) -> Response:
        return serve("host/jquery.js", request)

    return router


router = create_router()
"""Include in ``create_app``: ``app.include_router(connect_ui_routes.router)``."""
