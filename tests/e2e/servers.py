"""Loopback servers for the browser tests: a test-only host page built with appdock's resolver,
partials and host.js, and a sample Connect app that verifies every JWT it receives with the
``atlassian-jwt`` package, as an app would.

Origins: the host is ``http://127.0.0.1:<port>``, the apps ``http://localhost:<port>`` (another
origin), and a hostile page another ``localhost`` port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import atlassian_jwt
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader, select_autoescape

import appdock
from appdock.app import SecurityHeaders
from appdock.connect.ui import routes as bridge_routes
from appdock.connect.ui.conditions import EvaluationContext, Permission
from appdock.connect.ui.page import bridge_config, page_csp
from appdock.connect.ui.resolver import (
    IFRAME_TYPES,
    PageContext,
    Resolution,
    modules_from_descriptor,
    resolve,
    sign_app_url,
)
from appdock.core.scopes import Scope, closure

PACKAGE_DIR = Path(appdock.__file__).parent
CSRF_TOKEN = "test-csrf-token-4f1c"
VIEWER_UUID = "{4a1f3c2e-0000-4000-8000-00000000a11c}"
GRANT_URL = "/site/connect/grant?client_key=client-bridge-1"


class Server:
    """A uvicorn server on a loopback socket, in a thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.base = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.daemon = True

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"test server on {self.base} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


# -- the sample app ------------------------------------------------------------------------------


@dataclass
class AppRecord:
    path: str
    jwt_ok: bool
    claims: dict[str, Any] | None
    error: str | None


@dataclass
class SampleApp:
    """Two apps on one server: ``com.example.bridge`` under ``/bb`` and
    ``com.example.other`` under ``/other`` (to check events stay inside one app)."""

    host_base: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    requests: list[AppRecord] = field(default_factory=list)

    def verified(self, prefix: str) -> list[AppRecord]:
        return [r for r in self.requests if r.path.startswith(prefix)]


class _Authenticator(atlassian_jwt.Authenticator):  # type: ignore[misc]
    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__()
        self.secrets = secrets

    def get_shared_secret(self, client_key: str) -> str:
        return self.secrets[client_key]


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script src="{host}/atlassian-connect/all.js"></script>
<style>body{{font-family:sans-serif;margin:0}} .ac-content{{padding:8px;background:#e9f2ff}}</style>
</head><body><div class="ac-content">
<p><strong>{title}</strong> · JWT verified by the app: <span id="jwt">{jwt_ok}</span></p>
<p id="query">{query}</p>
</div>
<script>
window.received = [];
window.dialogClosed = null;
AP.events.on('ping', function (data) {{ window.received.push(data); }});
AP.events.on('dialog.close', function (data) {{ window.dialogClosed = data || {{}}; }});
{extra}
</script>
</body></html>"""

DIALOG_SCRIPT = """
window.submitted = false;
AP.dialog.getCustomData(function (data) { window.customData = data; });
AP.dialog.disableCloseOnSubmit();
AP.events.on('dialog.submit', function () {
  window.submitted = true;
  AP.dialog.close({answer: 42, customData: window.customData});
});
"""


def create_sample_app(state: SampleApp) -> FastAPI:
    app = FastAPI()
    authenticator = _Authenticator(state.secrets)

    def page(request: Request, prefix: str, title: str, extra: str = "") -> HTMLResponse:
        raw_path = request.scope["raw_path"].decode()
        query = request.scope["query_string"].decode()
        relative = raw_path[len(prefix) :] + ("?" + query if query else "")
        try:
            _, claims = authenticator.authenticate("GET", relative)
            record = AppRecord(raw_path + "?" + query, True, dict(claims), None)
        except Exception as exc:  # any failure is recorded for the test to assert on
            record = AppRecord(raw_path + "?" + query, False, None, f"{type(exc).__name__}: {exc}")
        state.requests.append(record)
        body = PAGE.format(
            title=title,
            host=state.host_base,
            jwt_ok="yes" if record.jwt_ok else "NO " + (record.error or ""),
            query=query.replace("<", "&lt;"),
            extra=extra,
        )
        return HTMLResponse(body)

    @app.get("/bb/panel")
    def panel(request: Request) -> HTMLResponse:
        return page(request, "/bb", "Bridge panel")

    @app.get("/bb/second")
    def second(request: Request) -> HTMLResponse:
        return page(request, "/bb", "Second panel")

    @app.get("/bb/page")
    def full_page(request: Request) -> HTMLResponse:
        return page(request, "/bb", "Full page")

    @app.get("/bb/dialog")
    def dialog(request: Request) -> HTMLResponse:
        return page(request, "/bb", "Dialog", DIALOG_SCRIPT)

    @app.get("/bb/framed-elsewhere")
    def rogue(request: Request) -> HTMLResponse:
        # Same origin as the app, but not created through the bridge.
        return HTMLResponse("<!doctype html><title>rogue</title><p>rogue</p>")

    @app.get("/bb/xfo")
    def xfo(request: Request) -> HTMLResponse:
        response = page(request, "/bb", "Refuses framing")
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.get("/other/panel")
    def other(request: Request) -> HTMLResponse:
        return page(request, "/other", "Other app panel")

    return app


def create_hostile_app() -> FastAPI:
    app = FastAPI()

    @app.get("/evil")
    def evil() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>evil</title><p>hostile frame</p>")

    return app


# -- the host ----------------------------------------------------------------------------------

HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Bridge test host</title>
<meta name="csrf-token" content="{{ csrf_token }}">
<style>body{font-family:sans-serif;margin:16px} section{margin:12px 0;max-width:720px}</style>
</head><body>
<h1>Repository acme/widget</h1>
<script>
window.hostEvents = [];
['dialog-submit','dialog-close','dialog-open','connect-timeout','connect-established','flag']
  .forEach(function (name) {
    document.addEventListener('appdock:' + name, function (e) {
      window.hostEvents.push({name: name, detail: e.detail});
    });
  });
</script>
{% for resolution in resolutions %}{% for module in resolution.modules %}
<section>{% include "connect/module.html" %}</section>
{% endfor %}{% endfor %}
{% if hostile %}
<section><iframe id="hostile" src="{{ hostile }}" style="height:40px"></iframe></section>
<section><iframe id="rogue" src="{{ rogue }}" style="height:40px"></iframe></section>
{% endif %}
{% include "connect/scripts.html" %}
</body></html>"""


def _descriptor(app_base: str, key: str, path: str, modules: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "name": "Bridge <Test> App" if key == "com.example.bridge" else "Other app",
        "baseUrl": app_base + path,
        "authentication": {"type": "jwt"},
        "modules": modules,
    }


def bridge_descriptor(app_base: str) -> dict[str, Any]:
    panel_loc = "org.bitbucket.repository.overview.informationPanel"
    return _descriptor(
        app_base,
        "com.example.bridge",
        "/bb",
        {
            "webPanels": [
                {
                    "key": "panel",
                    "name": {"value": "Bridge panel"},
                    "location": panel_loc,
                    "url": "/panel?repo={repository.full_name}&uuid={repository.uuid}"
                    "&pr={pullrequest.id}",
                    "weight": 1,
                },
                {
                    "key": "second",
                    "name": {"value": "Second panel"},
                    "location": panel_loc,
                    "url": "/second",
                    "weight": 2,
                },
                {
                    "key": "xfo",
                    "name": {"value": "Refuses framing"},
                    "location": panel_loc,
                    "url": "/xfo",
                    "weight": 3,
                },
                {
                    "key": "admins",
                    "name": {"value": "Admins only"},
                    "location": panel_loc,
                    "url": "/panel?admin=1",
                    "weight": 4,
                    "conditions": [
                        {"condition": "has_permission", "params": {"permission": "admin"}}
                    ],
                },
            ],
            "webItems": [
                {
                    "key": "dialog-module",
                    "name": {"value": "Open <dialog>"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/dialog?from=item",
                    "target": {
                        "type": "dialog",
                        "options": {
                            "width": "480px",
                            "height": "300px",
                            "header": {"value": "Dialog"},
                        },
                    },
                },
            ],
            "repoPages": [
                {
                    "key": "page",
                    "name": {"value": "Full page"},
                    "location": "org.bitbucket.repository.navigation",
                    "url": "/page",
                },
            ],
        },
    )


def other_descriptor(app_base: str) -> dict[str, Any]:
    return _descriptor(
        app_base,
        "com.example.other",
        "/other",
        {
            "webPanels": [
                {
                    "key": "panel",
                    "name": {"value": "Other app panel"},
                    "weight": 5,
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "url": "/panel",
                }
            ]
        },
    )


@dataclass
class HostState:
    app_base: str = ""
    hostile_base: str = ""
    api_calls: list[dict[str, Any]] = field(default_factory=list)
    timeout_ms: int = 2500
    last_csp: str = ""
    resolve_calls: list[dict[str, Any]] = field(default_factory=list)


CLIENT_KEYS = {"com.example.bridge": "client-bridge-1", "com.example.other": "client-other-1"}


def create_host(state: HostState, sample: SampleApp) -> FastAPI:
    env = Environment(
        loader=ChoiceLoader(
            [DictLoader({"host.html": HOST_PAGE}), FileSystemLoader(PACKAGE_DIR / "web/templates")]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "web/static")), name="static")
    app.include_router(bridge_routes.router)

    def installed(xfo: bool = False) -> list[Any]:
        scopes = closure({Scope.PULLREQUEST, Scope.ACCOUNT})
        modules = []
        for descriptor in (bridge_descriptor(state.app_base), other_descriptor(state.app_base)):
            client_key = CLIENT_KEYS[descriptor["key"]]
            modules += modules_from_descriptor(
                descriptor,
                client_key=client_key,
                shared_secret=sample.secrets[client_key],
                scopes=scopes,
            )
        return [m for m in modules if xfo or m.module_key != "xfo"]

    def page_context(host_base: str) -> PageContext:
        return PageContext(
            host_base_url=host_base,
            viewer_uuid=VIEWER_UUID,
            objects={
                "repository": {
                    "full_name": "acme/widget",
                    "uuid": "{5f8a2b1c-0001}",
                    "is_private": True,
                },
                "pullrequest": {"id": 7},
                "user": {"uuid": VIEWER_UUID},
            },
            load_timeout_ms=state.timeout_ms,
            addon_page_url=lambda a, m: f"/acme/widget/addon/{a}/{m}",
        )

    evaluation = EvaluationContext(logged_in=True, repo_permission=Permission.WRITE)

    def render(request: Request, resolutions: list[Resolution], hostile: bool) -> Response:
        host_base = str(request.base_url).rstrip("/")
        page = page_context(host_base)
        dialogs = resolve(installed(), page=page, evaluation=evaluation, module_types=IFRAME_TYPES)
        config = bridge_config(
            csrf_token=CSRF_TOKEN,
            resolutions=resolutions,
            dialogs=dialogs.modules,
            addon_page_url="/acme/widget/addon/{app_key}/{module_key}",
            resolve_url="/connect/resolve",
            page_target="repository",
            page_context={"repository": "acme/widget"},
            timeout_ms=state.timeout_ms,
            consent={
                key: {"clientKey": client_key, "appName": "Bridge <Test> App"}
                for key, client_key in CLIENT_KEYS.items()
                if key == "com.example.bridge"
            },
        )
        html = env.get_template("host.html").render(
            resolutions=resolutions,
            connect_config=config,
            csrf_token=CSRF_TOKEN,
            hostile=state.hostile_base + "/evil" if hostile else None,
            rogue=state.app_base + "/bb/framed-elsewhere" if hostile else None,
        )
        csp = page_csp(resolutions, dialogs.modules)
        if hostile:
            csp = csp.replace("frame-src ", f"frame-src {state.hostile_base} ")
        state.last_csp = csp
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    @app.get("/repo")
    def repo(request: Request, hostile: int = 0, xfo: int = 0) -> Response:
        page = page_context(str(request.base_url).rstrip("/"))
        modules = installed(bool(xfo))
        panels = resolve(
            modules,
            page=page,
            evaluation=evaluation,
            location="org.bitbucket.repository.overview.informationPanel",
        )
        actions = resolve(
            modules, page=page, evaluation=evaluation, location="org.bitbucket.repository.actions"
        )
        return render(request, [panels, actions], bool(hostile))

    @app.get("/acme/widget/addon/{app_key}/{module_key}")
    def addon_page(request: Request, app_key: str, module_key: str) -> Response:
        page = page_context(str(request.base_url).rstrip("/"))
        from appdock.connect.ui.resolver import resolve_one

        found = resolve_one(
            installed(), app_key=app_key, module_key=module_key, page=page, evaluation=evaluation
        )
        return render(request, [found], False)

    @app.post("/connect/resolve")
    async def resolve_endpoint(request: Request) -> JSONResponse:
        # Test-only stand-in for the real endpoint (later work): signs a dialog URL.
        if request.headers.get("x-csrf-token") != CSRF_TOKEN:
            return JSONResponse({"error": "csrf"}, status_code=403)
        body = await request.json()
        state.resolve_calls.append(body)
        page = page_context(str(request.base_url).rstrip("/"))
        modules = [m for m in installed() if m.app_key == body["addonKey"]]
        url = sign_app_url(modules[0], body["url"], page) if modules and body.get("url") else None
        if url is None:
            return JSONResponse({"error": "not signable"}, status_code=404)
        return JSONResponse({"url": url})

    @app.get("/api/2.0/user")
    def user(request: Request) -> JSONResponse:
        state.api_calls.append(_call(request, None))
        return JSONResponse({"type": "user", "uuid": VIEWER_UUID, "display_name": "Alice <A>"})

    @app.get("/api/2.0/consent-needed")
    def consent_needed(request: Request) -> JSONResponse:
        # What appdock's API answers an app the viewer has not granted access.
        state.api_calls.append(_call(request, None))
        error = {
            "message": "Bridge <Test> App may not act for you: you have not granted it access",
            "data": {"consent_required": True, "grant_url": GRANT_URL},
        }
        return JSONResponse({"type": "error", "error": error}, status_code=403)

    @app.post("/api/2.0/echo")
    async def echo(request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        call = _call(request, body)
        state.api_calls.append(call)
        if request.headers.get("x-csrf-token") != CSRF_TOKEN:
            return JSONResponse({"type": "error", "error": {"message": "csrf"}}, status_code=403)
        return JSONResponse({"echo": json.loads(body or "null"), "app": call["app_key"]})

    app.add_middleware(SecurityHeaders)
    return app


def _call(request: Request, body: str | None) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.url.path,
        "app_key": request.headers.get("x-appdock-app-key"),
        "client_key": request.headers.get("x-appdock-client-key"),
        "csrf": request.headers.get("x-csrf-token"),
        "body": body,
    }


@dataclass
class Stack:
    host: Server
    app: Server
    hostile: Server
    host_state: HostState
    sample: SampleApp
    stop: Callable[[], None]


def start_stack() -> Stack:
    sample = SampleApp(
        secrets={
            "client-bridge-1": "bridge-shared-secret-0123456789abcdef",
            "client-other-1": "other-shared-secret-0123456789abcdefgh",
        }
    )
    host_state = HostState()
    app_server = Server(create_sample_app(sample), host="localhost").start()
    hostile = Server(create_hostile_app(), host="localhost").start()
    host = Server(create_host(host_state, sample)).start()
    sample.host_base = host.base
    host_state.app_base = app_server.base
    host_state.hostile_base = hostile.base

    def stop() -> None:
        for server in (host, app_server, hostile):
            server.stop()

    return Stack(host, app_server, hostile, host_state, sample, stop)


def path_of(url: str) -> str:
    return urlsplit(url).path
