"""A small Connect app on a loopback port for end-to-end tests.

It serves its descriptor, records every request, and checks every JWT it receives with the
``atlassian-jwt`` package, the way atlassian-connect-express does for Bitbucket:

- ``installed`` for a clientKey it does not know: accepted without a JWT (nothing to check with);
- ``installed`` for a known clientKey: must carry a JWT signed with the secret it stored last
  (else 401), whose ``aud`` is the clientKey;
- ``uninstalled`` and every other POST/GET under the base path: JWT with the current secret.

Knobs let tests make it misbehave: a status for ``installed``, a delay, closing the connection,
a descriptor that is HTML, huge, slow, or a redirect.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import atlassian_jwt
import jwt as pyjwt


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    jwt_ok: bool | None = None
    jwt_claims: dict[str, Any] | None = None
    jwt_error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Behaviour:
    installed_status: int = 204
    installed_body: bytes = b""
    installed_delay: float = 0.0
    installed_close: bool = False
    uninstalled_status: int = 204
    descriptor_status: int = 200
    descriptor_type: str = "application/json"
    descriptor_body: bytes | None = None
    descriptor_delay: float = 0.0
    descriptor_redirect: str | None = None
    on_installed: Callable[[dict[str, Any]], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FakeApp:
    def __init__(
        self,
        key: str = "com.example.fake",
        *,
        base_path: str = "",
        scopes: list[str] | None = None,
        omit_scopes: bool = False,
        modules: dict[str, Any] | None = None,
        name: str | None = None,
        **descriptor_overrides: Any,
    ) -> None:
        self.behaviour = Behaviour()
        self.requests: list[Recorded] = []
        self.tenants: dict[str, dict[str, Any]] = {}
        self.previous: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.base_path = base_path.rstrip("/")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base_url = self.origin + self.base_path
        self.descriptor: dict[str, Any] = {
            "key": key,
            "name": name or f"Fake app {key}",
            "description": "An app for tests",
            "vendor": {"name": "Tests Ltd", "url": "https://vendor.example"},
            "baseUrl": self.base_url,
            "authentication": {"type": "jwt"},
            "lifecycle": {"installed": "/installed", "uninstalled": "/uninstalled"},
            "scopes": ["account", "repository"] if scopes is None else scopes,
            "contexts": ["account"],
            "modules": modules if modules is not None else {},
        }
        self.descriptor.update(descriptor_overrides)
        if omit_scopes:
            del self.descriptor["scopes"]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def key(self) -> str:
        return str(self.descriptor["key"])

    @property
    def descriptor_url(self) -> str:
        return self.base_url + "/atlassian-connect.json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # JWT checks ------------------------------------------------------------------------------
    def verify(
        self, method: str, path: str, headers: dict[str, str], secret: str | None = None
    ) -> tuple[bool, dict[str, Any] | None, str | None]:
        """Check a host → app JWT with atlassian-jwt (qsh over the path below the base path)."""
        app = self
        relative = path[len(self.base_path) :] if path.startswith(self.base_path) else path

        class Auth(atlassian_jwt.Authenticator):  # type: ignore[misc]
            def get_shared_secret(self, client_key: str) -> str:
                if secret is not None:
                    return secret
                return str(app.tenants[client_key]["sharedSecret"])

        try:
            result = Auth(leeway=60).authenticate(method, relative, headers)
        except (pyjwt.PyJWTError, KeyError) as exc:
            return False, None, f"{type(exc).__name__}: {exc}"
        claims: dict[str, Any] = result.claims
        aud = claims.get("aud")
        aud0 = aud[0] if isinstance(aud, list) else aud
        if aud0 != claims.get("iss"):
            return False, claims, f"aud {aud!r} is not the clientKey {claims.get('iss')!r}"
        return True, claims, None

    def requests_to(self, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if urlsplit(r.path).path == self.base_path + suffix]

    # HTTP ------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _record(self, body: bytes) -> Recorded:
                rec = Recorded(self.command, self.path, dict(self.headers), body)
                with app.lock:
                    app.requests.append(rec)
                return rec

            def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                rec = self._record(b"")
                path = urlsplit(self.path).path
                b = app.behaviour
                if path == app.base_path + "/atlassian-connect.json":
                    if b.descriptor_delay:
                        time.sleep(b.descriptor_delay)
                    if b.descriptor_redirect:
                        self.send_response(302)
                        self.send_header("Location", b.descriptor_redirect)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body = b.descriptor_body
                    if body is None:
                        body = json.dumps(app.descriptor).encode()
                    self._send(b.descriptor_status, body, b.descriptor_type)
                    return
                rec.jwt_ok, rec.jwt_claims, rec.jwt_error = app.verify(
                    "GET", self.path, dict(self.headers)
                )
                self._send(200 if rec.jwt_ok else 401, b"page", "text/html")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                rec = self._record(body)
                path = urlsplit(self.path).path
                b = app.behaviour
                if path == app.base_path + "/installed":
                    self._installed(rec, body, b)
                    return
                rec.jwt_ok, rec.jwt_claims, rec.jwt_error = app.verify(
                    "POST", self.path, dict(self.headers)
                )
                if path == app.base_path + "/uninstalled":
                    self._send(b.uninstalled_status if rec.jwt_ok else 401)
                    return
                self._send(204 if rec.jwt_ok else 401)

            def _installed(self, rec: Recorded, body: bytes, b: Behaviour) -> None:
                if b.installed_delay:
                    time.sleep(b.installed_delay)
                if b.installed_close:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = json.loads(body or b"{}")
                client_key = payload.get("clientKey", "")
                if client_key in app.tenants:
                    rec.jwt_ok, rec.jwt_claims, rec.jwt_error = app.verify(
                        "POST", self.path, dict(self.headers)
                    )
                    if not rec.jwt_ok:
                        self._send(401, b"Could not find authentication data on request")
                        return
                if b.on_installed is not None:
                    b.on_installed(payload)
                if b.installed_status < 300:
                    with app.lock:
                        if client_key in app.tenants:
                            app.previous[client_key] = app.tenants[client_key]
                        app.tenants[client_key] = payload
                self._send(b.installed_status, b.installed_body)

        return Handler
