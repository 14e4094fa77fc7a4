"""A sample Connect app for the browser tests against a real appdock: it serves its descriptor,
accepts the ``installed`` callback (recording the tenant's shared secret, as
atlassian-connect-express does), and verifies with ``atlassian-jwt`` every iframe request,
proxied request and ``uninstalled`` callback it gets. It runs on ``http://localhost:<port>``,
another origin than the host (``http://127.0.0.1:<port>``).

Its pages load the host's ``/atlassian-connect/all.js`` and print whether the JWT checked out.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import atlassian_jwt
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

APP_KEY = "com.example.browser"
PANELS_REPO = "org.bitbucket.repository.overview.informationPanel"
PANELS_PR = "org.bitbucket.pullrequest.overview.informationPanel"


@dataclass
class Seen:
    method: str
    path: str
    jwt_ok: bool
    claims: dict[str, Any] | None
    error: str | None


@dataclass
class AppState:
    host_base: str = ""
    base: str = ""
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    uninstalled: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verified(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path.split("?")[0] == path]

    @property
    def descriptor_url(self) -> str:
        return self.base + "/atlassian-connect.json"


def descriptor(base: str) -> dict[str, Any]:
    return {
        "key": APP_KEY,
        "name": "Browser <Test> App",
        "description": "Panels, a page, a dialog and a proxy for the browser tests",
        "vendor": {"name": "Tests Ltd", "url": "https://vendor.example"},
        "baseUrl": base,
        "authentication": {"type": "jwt"},
        "lifecycle": {"installed": "/installed", "uninstalled": "/uninstalled"},
        # No repository:write: AP.request may read the repository but never write to it.
        "scopes": ["account", "pullrequest"],
        "contexts": ["account"],
        "modules": {
            "webPanels": [
                {
                    "key": "repo-panel",
                    "name": {"value": "Repository panel"},
                    "location": PANELS_REPO,
                    "url": "/panel?repo={repository.full_name}",
                    "weight": 1,
                },
                {
                    "key": "pr-panel",
                    "name": {"value": "Pull request panel"},
                    "location": PANELS_PR,
                    "url": "/pr-panel?repo={repository.full_name}&pr={pullrequest.id}",
                },
                {
                    # Only on a repository named "framing": the app refuses to be framed there.
                    "key": "xfo-panel",
                    "name": {"value": "Refuses framing"},
                    "location": PANELS_REPO,
                    "url": "/xfo",
                    "weight": 2,
                    "conditions": [
                        {
                            "condition": "equals",
                            "target": "repository.name",
                            "params": {"value": "framing"},
                        }
                    ],
                },
            ],
            "repoPages": [
                {
                    "key": "app-page",
                    "name": {"value": "Browser app page"},
                    "location": "org.bitbucket.repository.navigation",
                    "url": "/page?repo={repository.full_name}",
                }
            ],
            "webItems": [
                {
                    "key": "open-dialog",
                    "name": {"value": "Open app dialog"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/dialog",
                    "target": {
                        "type": "dialog",
                        "options": {"header": {"value": "App dialog"}, "width": "480px"},
                    },
                },
                {
                    "key": "admins-only",
                    "name": {"value": "Admins only item"},
                    "location": "org.bitbucket.repository.navigation",
                    "url": "/admin-item",
                    "conditions": [
                        {"condition": "has_permission", "params": {"permission": "admin"}}
                    ],
                },
            ],
            "oauthConsumer": {"clientId": "browser-test-consumer"},
            "proxy": {
                "/echo": {
                    "destination": "/proxied/echo?user={user.uuid}&repo={repository.full_name}"
                    "&pr={pullrequest.id}"
                }
            },
        },
    }


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
AP.events.on('dialog.close', function (data) {{ window.dialogClosed = data || {{}}; }});
{extra}
</script>
</body></html>"""

DIALOG_SCRIPT = """
window.submitted = false;
AP.dialog.disableCloseOnSubmit();
AP.events.on('dialog.submit', function () {
  window.submitted = true;
  AP.dialog.close({answer: 42});
});
"""


def _own_params(request: Request) -> str:
    """The query without the bridge's parameters (jwt, xdm_e, xdm_c, cp)."""
    bridge = {"jwt", "xdm_e", "xdm_c", "cp"}
    return "&".join(f"{k}={v}" for k, v in request.query_params.multi_items() if k not in bridge)


class _Authenticator(atlassian_jwt.Authenticator):  # type: ignore[misc]
    def __init__(self, state: AppState) -> None:
        super().__init__(leeway=60)
        self.state = state

    def get_shared_secret(self, client_key: str) -> str:
        return str(self.state.tenants[client_key]["sharedSecret"])


def create_app(state: AppState) -> FastAPI:
    app = FastAPI()
    auth = _Authenticator(state)

    def check(request: Request) -> Seen:
        raw_path = request.scope["raw_path"].decode()
        query = request.scope["query_string"].decode()
        target = raw_path + ("?" + query if query else "")
        try:
            _, claims = auth.authenticate(request.method, target, dict(request.headers))
            seen = Seen(request.method, target, True, dict(claims), None)
        except Exception as exc:  # any failure is recorded for the test to assert on
            seen = Seen(request.method, target, False, None, f"{type(exc).__name__}: {exc}")
        with state.lock:
            state.seen.append(seen)
        return seen

    def page(request: Request, title: str, extra: str = "") -> HTMLResponse:
        seen = check(request)
        body = PAGE.format(
            title=title,
            host=state.host_base,
            jwt_ok="yes" if seen.jwt_ok else "NO " + (seen.error or ""),
            query=_own_params(request).replace("&", "&amp;").replace("<", "&lt;"),
            extra=extra,
        )
        return HTMLResponse(body)

    @app.get("/atlassian-connect.json")
    def descriptor_json() -> JSONResponse:
        return JSONResponse(descriptor(state.base))

    @app.post("/installed")
    async def installed(request: Request) -> Response:
        payload = json.loads(await request.body())
        with state.lock:
            state.tenants[payload["clientKey"]] = payload
        return Response(status_code=204)

    @app.post("/uninstalled")
    async def uninstalled(request: Request) -> Response:
        seen = check(request)
        if not seen.jwt_ok:
            return Response(status_code=401)
        with state.lock:
            state.uninstalled.append(json.loads(await request.body()))
        return Response(status_code=204)

    @app.get("/panel")
    def panel(request: Request) -> HTMLResponse:
        return page(request, "Repository panel")

    @app.get("/pr-panel")
    def pr_panel(request: Request) -> HTMLResponse:
        return page(request, "Pull request panel")

    @app.get("/page")
    def full_page(request: Request) -> HTMLResponse:
        return page(request, "Browser app page")

    @app.get("/dialog")
    def dialog(request: Request) -> HTMLResponse:
        return page(request, "App dialog", DIALOG_SCRIPT)

    @app.get("/xfo")
    def xfo(request: Request) -> HTMLResponse:
        response = page(request, "Refuses framing")
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.api_route("/proxied/echo", methods=["GET", "POST"])
    async def echo(request: Request) -> JSONResponse:
        seen = check(request)
        if not seen.jwt_ok:
            return JSONResponse({"error": seen.error}, status_code=401)
        body = (await request.body()).decode()
        return JSONResponse(
            {
                "method": request.method,
                "user": request.query_params.get("user"),
                "repo": request.query_params.get("repo"),
                "pr": request.query_params.get("pr"),
                "sub": (seen.claims or {}).get("sub"),
                "body": body,
            }
        )

    return app
