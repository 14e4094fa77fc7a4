"""Hello, appdock: an example Connect app built with appdock-connect and Starlette.

It adds a panel to every repository overview (latest commits, read through the host's API with
the app's JWT), a repository page that greets the viewer through the AP bridge, a "Say hello"
action that opens a dialog, and it listens to ``repo:push`` and ``pullrequest:fulfilled``
webhooks. ``make run`` starts it beside appdock and installs it on the demo team; by hand:

    python examples/hello_app/app.py --port 8001
    # then Workspace settings → Installed apps → Install app from URL:
    #   http://127.0.0.1:8001/atlassian-connect.json   (development mode on)

Tenants are kept in a JSON file (``--data``), so restarts keep installations.
"""

from __future__ import annotations

import argparse
import html
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from appdock_connect import ConnectApp, ConnectError, JSONFileTenantStore

APP_KEY = "io.appdock.example.hello"


def descriptor(base_url: str) -> dict[str, Any]:
    return {
        "key": APP_KEY,
        "name": "Hello, appdock",
        "description": "An example app: a repository panel, a page, and webhooks.",
        "vendor": {"name": "appdock examples", "url": "https://example.test"},
        "baseUrl": base_url,
        "authentication": {"type": "jwt"},
        "lifecycle": {"installed": "/installed", "uninstalled": "/uninstalled"},
        "scopes": ["account", "repository", "pullrequest"],
        "contexts": ["account"],
        "modules": {
            "webPanels": [
                {
                    "key": "hello-panel",
                    "name": {"value": "Hello, appdock"},
                    "location": "org.bitbucket.repository.overview.informationPanel",
                    "url": "/panel?repo={repository.full_name}&uuid={repository.uuid}",
                }
            ],
            "repoPages": [
                {
                    "key": "hello-page",
                    "name": {"value": "Hello page"},
                    "location": "org.bitbucket.repository.navigation",
                    "url": "/page?repo={repository.full_name}",
                    "params": {"auiIcon": "aui-iconfont-doc"},
                }
            ],
            "webItems": [
                {
                    "key": "hello-action",
                    "name": {"value": "Say hello"},
                    "tooltip": {"value": "Open the example app's dialog"},
                    "location": "org.bitbucket.repository.actions",
                    "url": "/dialog?repo={repository.full_name}",
                    "target": {"type": "dialog", "options": {"width": "480px", "height": "240px"}},
                }
            ],
            "webhooks": [
                {"event": "repo:push", "url": "/webhook"},
                {"event": "pullrequest:fulfilled", "url": "/webhook"},
            ],
        },
    }


PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="{host}/atlassian-connect/all.js"></script>
<style>body{{font:14px -apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#172b4d}}
.ac-content{{padding:12px}} h3{{margin:0 0 8px}} li{{margin:2px 0}} code{{font-size:12px}}
.muted{{color:#626f86}}</style></head>
<body><div class="ac-content">{body}</div></body></html>"""


def create_app(base_url: str, data_file: str) -> Starlette:
    connect = ConnectApp(APP_KEY, JSONFileTenantStore(data_file), base_url=base_url)
    events: deque[dict[str, str]] = deque(maxlen=20)

    async def get_descriptor(_: Request) -> Response:
        return JSONResponse(descriptor(base_url))

    async def installed(request: Request) -> Response:
        try:
            connect.installed(
                method="POST",
                url=_url(request),
                headers=dict(request.headers),
                body=await request.body(),
            )
        except ConnectError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        return Response(status_code=204)

    async def uninstalled(request: Request) -> Response:
        try:
            connect.uninstalled(
                method="POST",
                url=_url(request),
                headers=dict(request.headers),
                body=await request.body(),
            )
        except ConnectError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        return Response(status_code=204)

    async def webhook(request: Request) -> Response:
        try:
            connect.verify("POST", _url(request), dict(request.headers))
        except ConnectError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        event = connect.parse_webhook(await request.body(), dict(request.headers))
        repo = (event.data.get("repository") or {}).get("full_name", "?")
        events.appendleft({"event": event.event, "repository": repo})
        return Response(status_code=204)

    def panel(request: Request) -> Response:
        try:
            ctx = connect.verify("GET", _url(request), dict(request.headers))
        except ConnectError as exc:
            return HTMLResponse(f"<p>Not verified: {html.escape(str(exc))}</p>", status_code=401)
        repo = request.query_params.get("repo", "")
        items = []
        with connect.client(ctx.tenant) as api:
            r = api.get(f"/2.0/repositories/{repo}/commits", params={"pagelen": 3})
            if r.status_code == 200:
                for c in r.json().get("values", []):
                    message = str(c.get("message", "")).splitlines()[0] if c.get("message") else ""
                    items.append(
                        f"<li><code>{html.escape(c['hash'][:7])}</code> {html.escape(message)}</li>"
                    )
        recent = "".join(
            f"<li>{html.escape(e['event'])} "
            f"<span class='muted'>{html.escape(e['repository'])}</span></li>"
            for e in list(events)[:3]
        )
        body = (
            "<h3>Hello from an app</h3>"
            f"<div class='muted'>JWT verified for {html.escape(repo)}</div>"
            f"<ul>{''.join(items) or '<li class=muted>no commits yet</li>'}</ul>"
            "<div class='muted'>Recent webhooks</div>"
            f"<ul>{recent or '<li class=muted>none yet</li>'}</ul>"
        )
        return HTMLResponse(PAGE.format(host=html.escape(ctx.tenant.base_url), body=body))

    def page(request: Request) -> Response:
        try:
            ctx = connect.verify("GET", _url(request), dict(request.headers))
        except ConnectError as exc:
            return HTMLResponse(f"<p>Not verified: {html.escape(str(exc))}</p>", status_code=401)
        body = (
            "<h3>Hello page</h3><p id='who' class='muted'>Asking the host who you are…</p>"
            "<button id='flag'>Show a flag</button>"
            "<script>AP.require('request', function (request) {"
            " request({url: '/2.0/user', success: function (u) {"
            " document.getElementById('who').textContent = 'You are ' + u.display_name; }}); });"
            "document.getElementById('flag').onclick = function () {"
            " AP.flag.create({title: 'Hello', body: 'from the example app', type: 'success'}); };"
            "</script>"
        )
        return HTMLResponse(PAGE.format(host=html.escape(ctx.tenant.base_url), body=body))

    def dialog(request: Request) -> Response:
        try:
            ctx = connect.verify("GET", _url(request), dict(request.headers))
        except ConnectError as exc:
            return HTMLResponse(f"<p>Not verified: {html.escape(str(exc))}</p>", status_code=401)
        repo = html.escape(request.query_params.get("repo", ""))
        body = (
            f"<h3>Hello, {repo}</h3>"
            "<p class='muted'>This dialog is a signed page of the example app.</p>"
            "<button id='close'>Close</button>"
            "<script>document.getElementById('close').onclick = function () {"
            " AP.dialog.close({from: 'hello'}); };</script>"
        )
        return HTMLResponse(PAGE.format(host=html.escape(ctx.tenant.base_url), body=body))

    return Starlette(
        routes=[
            Route("/atlassian-connect.json", get_descriptor),
            Route("/installed", installed, methods=["POST"]),
            Route("/uninstalled", uninstalled, methods=["POST"]),
            Route("/webhook", webhook, methods=["POST"]),
            Route("/panel", panel),
            Route("/page", page),
            Route("/dialog", dialog),
        ]
    )


def _url(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return raw.decode() + (("?" + query.decode()) if query else "")


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--base-url", default="")
    parser.add_argument("--data", default="var/hello-app-tenants.json")
    args = parser.parse_args()
    base_url = args.base_url or f"http://{args.host}:{args.port}"
    uvicorn.run(
        create_app(base_url, args.data), host=args.host, port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
