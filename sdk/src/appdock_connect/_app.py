"""ConnectApp: the app side of the protocol, independent of any web framework.

Give it the request as your framework received it (method, path and query as sent on the wire,
headers, body) and it answers with a :class:`Tenant` or :class:`RequestContext`, or raises a
:class:`ConnectError` whose message you can return in a 401.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt as pyjwt

from appdock_connect._errors import InstallRefused, TokenInvalid, UnknownTenant
from appdock_connect._qsh import query_string_hash
from appdock_connect._tenants import Tenant, TenantStore


@dataclass(frozen=True)
class RequestContext:
    """A verified request from the host: which installation, and which user is looking."""

    tenant: Tenant
    user_id: str | None
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    event: str
    data: dict[str, Any]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class _SignedRequests(httpx.Auth):
    """Signs every outgoing request with a fresh app→host JWT bound to that request."""

    def __init__(self, app_key: str, tenant: Tenant, lifetime: int) -> None:
        self.app_key = app_key
        self.tenant = tenant
        self.lifetime = lifetime
        self.base_path = urlsplit(tenant.base_api_url).path.rstrip("/")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raw = request.url.raw_path.decode()
        now = int(time.time())
        claims = {
            "iss": self.app_key,
            "sub": self.tenant.client_key,
            "iat": now,
            "exp": now + self.lifetime,
            "qsh": query_string_hash(request.method, raw, self.base_path),
        }
        token = pyjwt.encode(claims, self.tenant.shared_secret, algorithm="HS256")
        request.headers["Authorization"] = f"JWT {token}"
        yield request


class ConnectApp:
    """An app's view of every host it is installed in.

    >>> app = ConnectApp(key="com.example.hello", tenants=MemoryTenantStore(),
    ...                  base_url="https://apps.example.com/hello")
    """

    def __init__(
        self,
        key: str,
        tenants: TenantStore,
        *,
        base_url: str = "",
        leeway: int = 60,
        token_lifetime: int = 180,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.key = key
        self.tenants = tenants
        self.base_path = urlsplit(base_url).path.rstrip("/") if base_url else ""
        self.leeway = leeway
        self.token_lifetime = token_lifetime
        self.transport = transport

    # lifecycle -------------------------------------------------------------------------------
    def installed(
        self, *, method: str, url: str, headers: Mapping[str, str], body: bytes | str
    ) -> Tenant:
        """Handle the ``installed`` callback; returns the stored tenant.

        A first install arrives unsigned (the app has no secret yet). A re-install must be signed
        with the secret of the previous install for the same clientKey, else it is refused: this
        stops anyone from overwriting a tenant's secret with a forged payload.
        """
        payload = self._payload(body)
        if payload.get("eventType", "installed") != "installed":
            raise InstallRefused(f"eventType is {payload.get('eventType')!r}, not 'installed'")
        for required in ("clientKey", "sharedSecret", "baseUrl"):
            if not payload.get(required):
                raise InstallRefused(f"the installed payload has no {required}")
        if payload.get("key") not in (None, self.key):
            raise InstallRefused(f"the payload is for app {payload.get('key')!r}, not {self.key!r}")
        tenant = Tenant.from_payload(payload)
        existing = self.tenants.get(tenant.client_key)
        if existing is not None:
            try:
                ctx = self._verify_with(existing, method, url, headers)
            except TokenInvalid as exc:
                raise InstallRefused(
                    f"re-install not signed with the previous secret: {exc}"
                ) from exc
            if ctx.tenant.client_key != tenant.client_key:
                raise InstallRefused("the token names another clientKey than the payload")
        self.tenants.put(tenant)
        return tenant

    def uninstalled(
        self, *, method: str, url: str, headers: Mapping[str, str], body: bytes | str
    ) -> Tenant:
        payload = self._payload(body)
        client_key = str(payload.get("clientKey", ""))
        tenant = self.tenants.get(client_key)
        if tenant is None:
            raise UnknownTenant(f"no tenant with clientKey {client_key!r}")
        try:
            self._verify_with(tenant, method, url, headers)
        except TokenInvalid as exc:
            raise InstallRefused(f"uninstall not signed with the tenant's secret: {exc}") from exc
        self.tenants.delete(client_key)
        return tenant

    # verification ----------------------------------------------------------------------------
    def verify(self, method: str, url: str, headers: Mapping[str, str]) -> RequestContext:
        """Verify a host→app request (iframe load or webhook).

        ``url`` is the path and query exactly as received. The token comes from
        ``Authorization: JWT`` or the ``jwt`` query parameter.
        """
        token = self._token(url, headers)
        try:
            unverified = pyjwt.decode(token, options={"verify_signature": False})
        except pyjwt.PyJWTError as exc:
            raise TokenInvalid(f"malformed JWT: {exc}") from exc
        client_key = self._client_key(unverified)
        tenant = self.tenants.get(client_key)
        if tenant is None:
            raise UnknownTenant(f"no tenant with clientKey {client_key!r}")
        return self._check(tenant, token, method, url)

    def _verify_with(
        self, tenant: Tenant, method: str, url: str, headers: Mapping[str, str]
    ) -> RequestContext:
        return self._check(tenant, self._token(url, headers), method, url)

    def _check(self, tenant: Tenant, token: str, method: str, url: str) -> RequestContext:
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.PyJWTError as exc:
            raise TokenInvalid(f"malformed JWT: {exc}") from exc
        if header.get("alg") != "HS256":
            raise TokenInvalid(f"algorithm {header.get('alg')!r} is not accepted; only HS256")
        try:
            claims: dict[str, Any] = pyjwt.decode(
                token,
                tenant.shared_secret,
                algorithms=["HS256"],
                leeway=self.leeway,
                options={"verify_aud": False, "require": ["iss", "exp", "qsh"]},
            )
        except pyjwt.ExpiredSignatureError as exc:
            raise TokenInvalid("the token has expired") from exc
        except pyjwt.InvalidSignatureError as exc:
            raise TokenInvalid("bad signature") from exc
        except pyjwt.PyJWTError as exc:
            raise TokenInvalid(str(exc)) from exc
        if self._client_key(claims) != tenant.client_key:
            raise TokenInvalid("the token was issued for another clientKey")
        expected = query_string_hash(method, url, self.base_path)
        if claims.get("qsh") != expected:
            raise TokenInvalid("qsh does not match this request")
        sub = claims.get("sub")
        return RequestContext(tenant=tenant, user_id=str(sub) if sub else None, claims=claims)

    @staticmethod
    def _client_key(claims: Mapping[str, Any]) -> str:
        aud = claims.get("aud")
        if isinstance(aud, list) and aud:
            return str(aud[0])
        if isinstance(aud, str) and aud:
            return aud
        return str(claims.get("iss", ""))

    @staticmethod
    def _token(url: str, headers: Mapping[str, str]) -> str:
        auth = _header(headers, "authorization") or ""
        if auth.startswith("JWT "):
            return auth[4:].strip()
        for key, value in parse_qsl(urlsplit(url).query):
            if key == "jwt":
                return value
        raise TokenInvalid("no JWT in the Authorization header or the jwt query parameter")

    @staticmethod
    def _payload(body: bytes | str) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise InstallRefused(f"the body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InstallRefused("the body is not a JSON object")
        return data

    # webhooks --------------------------------------------------------------------------------
    @staticmethod
    def parse_webhook(body: bytes | str, headers: Mapping[str, str] | None = None) -> WebhookEvent:
        """Connect deliveries wrap the payload as ``{"event", "data"}``; plain ones do not."""
        data = json.loads(body)
        if isinstance(data, dict) and "event" in data and isinstance(data.get("data"), dict):
            return WebhookEvent(event=str(data["event"]), data=data["data"])
        event = _header(headers or {}, "x-event-key") or ""
        return WebhookEvent(event=event, data=data if isinstance(data, dict) else {})

    # calling the host ------------------------------------------------------------------------
    def client(self, tenant: Tenant, **kwargs: Any) -> httpx.Client:
        """An httpx client rooted at the tenant's ``baseApiUrl``; every request is signed."""
        base = tenant.base_api_url.rstrip("/")
        return httpx.Client(
            base_url=base,
            auth=_SignedRequests(tenant.app_key or self.key, tenant, self.token_lifetime),
            transport=self.transport,
            timeout=kwargs.pop("timeout", 30),
            **kwargs,
        )

    def access_token(self, tenant: Tenant) -> dict[str, Any]:
        """Exchange the app's JWT for an installation access token (JWT bearer grant)."""
        url = tenant.base_url.rstrip("/") + "/site/oauth2/access_token"
        now = int(time.time())
        path = urlsplit(url).path
        claims = {
            "iss": tenant.app_key or self.key,
            "sub": tenant.client_key,
            "iat": now,
            "exp": now + self.token_lifetime,
            "qsh": query_string_hash("POST", path, urlsplit(tenant.base_url).path.rstrip("/")),
        }
        token = pyjwt.encode(claims, tenant.shared_secret, algorithm="HS256")
        with httpx.Client(transport=self.transport, timeout=30) as http:
            response = http.post(
                url,
                headers={"Authorization": f"JWT {token}"},
                data={"grant_type": "urn:bitbucket:oauth2:jwt"},
            )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result
