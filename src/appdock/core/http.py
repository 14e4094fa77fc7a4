"""Outbound HTTP to apps: descriptors, lifecycle callbacks, webhooks.

Every request goes through :class:`OutboundClient`, which enforces:

- **timeouts**: connect/read/write each bounded, plus an overall deadline per request (a server that
  drips one byte every few seconds still ends at the deadline);
- **a size cap**: the body is streamed and refused as soon as it passes ``max_bytes``;
- **redirects**: never followed by httpx; :meth:`OutboundClient.get` follows at most
  ``max_redirects`` itself (http/https only), re-checking every hop; POSTs follow none;
- **the private-address guard** (SSRF): the host name is resolved, and every address it resolves to
  must be allowed by the operator's policy (``APPDOCK_ALLOW_PRIVATE_APP_URLS``): ``off`` allows only
  globally routable unicast addresses, ``loopback`` adds 127.0.0.0/8 and ::1, ``all`` allows
  everything. The connection is then made **to the address that was checked** (the URL's host is
  swapped for the IP inside the transport, the ``Host`` header and the TLS server name keep the
  original name), so a DNS answer that changes between check and connect (DNS rebinding) cannot
  steer the request elsewhere.

Errors are :class:`OutboundError` (an :class:`~appdock.core.errors.UpstreamError`) whose messages
name the purpose and the URL, e.g. ``descriptor URL http://10.0.0.1/x resolves to a private
address 10.0.0.1; the operator has not allowed private app URLs``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin

import httpx

from appdock.core.errors import UpstreamError

PrivatePolicy = Literal["off", "loopback", "all"]
Resolver = Callable[[str, int], list[str]]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
USER_AGENT = "appdock-connect/1.0"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_JSON_TYPES = frozenset({"application/json", "text/json", "text/plain"})


class OutboundError(UpstreamError):
    """An outbound request that could not be made or did not answer acceptably."""


class BlockedAddress(OutboundError):
    status_code = 400


class BadUrl(OutboundError):
    status_code = 400


class ResponseTooLarge(OutboundError):
    pass


class OutboundTimeout(OutboundError):
    pass


class ConnectFailed(OutboundError):
    pass


class TooManyRedirects(OutboundError):
    pass


class BadResponse(OutboundError):
    """A status or content type the caller cannot use; ``response`` holds what came back."""

    def __init__(self, message: str, response: OutboundResponse) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True)
class OutboundResponse:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    def snippet(self, limit: int = 300) -> str:
        """The start of the body as text, for messages shown to people (escape before HTML)."""
        text = self.body[: limit * 4].decode("utf-8", errors="replace").strip()
        text = " ".join(text.split())
        return text[:limit] + ("…" if len(text) > limit else "")


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unwrap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def address_refusal(address: str, policy: PrivatePolicy) -> str | None:
    """Why ``address`` may not be contacted under ``policy`` (a phrase), or None when it may."""
    ip = _unwrap(ipaddress.ip_address(address.split("%")[0]))
    if policy == "all":
        return None
    if ip.is_loopback:
        return None if policy == "loopback" else "a loopback address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


class GuardedTransport(httpx.BaseTransport):
    """Resolves, checks, and connects to the checked address (see the module docstring)."""

    def __init__(
        self,
        policy: PrivatePolicy,
        *,
        resolver: Resolver | None = None,
        inner: httpx.BaseTransport | None = None,
        purpose: str = "URL",
    ) -> None:
        self.policy = policy
        self.resolver = resolver or system_resolver
        # No keep-alive: a pooled connection is keyed by IP, and reusing one opened for another
        # host name on the same IP would send this request with that host's TLS server name.
        self.inner = inner or httpx.HTTPTransport(
            retries=0, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self.purpose = purpose

    def check(self, url: httpx.URL) -> str:
        """The address to connect to for ``url``; raises when any resolved address is refused."""
        host = url.host
        if not host:
            raise BadUrl(f"{self.purpose} {url} has no host name")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise ConnectFailed(
                f"{self.purpose} {url}: cannot resolve host {host!r} ({exc})"
            ) from exc
        if not addresses:
            raise ConnectFailed(f"{self.purpose} {url}: host {host!r} has no address")
        for address in addresses:
            why = address_refusal(address, self.policy)
            if why is not None:
                raise BlockedAddress(
                    f"{self.purpose} {url} resolves to {why} {address}; "
                    "the operator has not allowed private app URLs"
                )
        return addresses[0]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        original_host = request.url.host
        address = self.check(request.url)
        if address != original_host:
            request.url = request.url.copy_with(host=address)
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": original_host}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class OutboundClient:
    """The one way appdock talks to apps. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        policy: PrivatePolicy,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        resolver: Resolver | None = None,
        inner_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.transport = GuardedTransport(policy, resolver=resolver, inner=inner_transport)
        self.client = httpx.Client(
            transport=self.transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    # requests ------------------------------------------------------------------------------------
    def get(
        self,
        url: str,
        *,
        purpose: str = "URL",
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
    ) -> OutboundResponse:
        current = url
        for _hop in range(self.max_redirects + 1):
            response = self._send("GET", current, purpose=purpose, headers=headers)
            location = response.headers.get("location")
            if not (follow_redirects and response.status in _REDIRECTS and location):
                return response
            current = urljoin(current, location)
        raise TooManyRedirects(f"{purpose} {url} redirected more than {self.max_redirects} times")

    def post_json(
        self,
        url: str,
        payload: Any,
        *,
        purpose: str = "URL",
        headers: Mapping[str, str] | None = None,
    ) -> OutboundResponse:
        body = json.dumps(payload, separators=(",", ":")).encode()
        merged = {"Content-Type": "application/json", **(headers or {})}
        return self._send("POST", url, purpose=purpose, headers=merged, content=body)

    def send(
        self,
        method: str,
        url: str,
        *,
        purpose: str = "URL",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> OutboundResponse:
        """One request with any method; redirects are returned, not followed."""
        return self._send(method.upper(), url, purpose=purpose, headers=headers, content=content)

    def fetch_json(self, url: str, *, purpose: str = "descriptor URL") -> tuple[str, Any]:
        """GET a JSON document: 2xx, a JSON (or plain text) content type, a parseable body.
        Returns the final URL (after redirects) and the parsed value."""
        response = self.get(url, purpose=purpose, headers={"Accept": "application/json"})
        if not response.ok:
            raise BadResponse(
                f"{purpose} {url} answered HTTP {response.status}"
                + (f": {response.snippet(200)}" if response.body else ""),
                response,
            )
        ctype = response.content_type
        if ctype and ctype not in _JSON_TYPES and not ctype.endswith("+json"):
            raise BadResponse(
                f"{purpose} {url} answered with Content-Type {ctype}, not JSON", response
            )
        try:
            return response.url, json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadResponse(f"{purpose} {url} is not valid JSON: {exc}", response) from exc

    def _send(
        self,
        method: str,
        url: str,
        *,
        purpose: str,
        headers: Mapping[str, str] | None,
        content: bytes | None = None,
    ) -> OutboundResponse:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise BadUrl(f"{purpose} {url!r} is not a valid URL ({exc})") from exc
        if parsed.scheme not in ("http", "https"):
            raise BadUrl(f"{purpose} {url} must use http or https")
        self.transport.purpose = purpose
        deadline = time.monotonic() + self.timeout
        try:
            with self.client.stream(method, parsed, headers=headers, content=content) as r:
                chunks: list[bytes] = []
                size = 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ResponseTooLarge(
                            f"{purpose} {url} answered with more than {self.max_bytes} bytes"
                        )
                    if time.monotonic() > deadline:
                        raise OutboundTimeout(
                            f"{purpose} {url} did not finish answering within {self.timeout:g} s"
                        )
                    chunks.append(chunk)
                return OutboundResponse(
                    url=url,
                    status=r.status_code,
                    headers=r.headers,
                    body=b"".join(chunks),
                )
        except httpx.TimeoutException as exc:
            raise OutboundTimeout(
                f"{purpose} {url} did not answer within {self.timeout:g} s"
            ) from exc
        except httpx.TooManyRedirects as exc:  # pragma: no cover - redirects are manual
            raise TooManyRedirects(f"{purpose} {url}: {exc}") from exc
        except (
            httpx.ConnectError,
            httpx.RemoteProtocolError,
            httpx.ReadError,
            httpx.WriteError,
        ) as exc:
            raise ConnectFailed(
                f"{purpose} {url}: the connection failed or was closed ({_reason(exc)})"
            ) from exc
        except httpx.HTTPError as exc:
            raise ConnectFailed(f"{purpose} {url}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
