"""The delivery HTTP client: aiohttp, one connection pool per worker, guarded.

Why aiohttp: measured on this machine against a loopback uvicorn receiver, 2 KB bodies,
concurrency 32, aiohttp's client posts several times faster than httpx's AsyncClient (see
docs/benchmarks.md and ``benchmarks/webhooks.py --clients``), and the client is the bound of the
worker's throughput.

Rules every request follows:

- **the private-address guard** (SSRF): a custom resolver drops every address the operator's
  policy (``APPDOCK_ALLOW_PRIVATE_APP_URLS`` off | loopback | all) refuses, *after* DNS
  resolution, and aiohttp connects only to the addresses it returned (no second lookup, so a DNS
  answer that changes in between cannot steer the request). IP-literal hosts, which aiohttp never
  resolves, are checked before the request;
- **no redirects**: a 3xx is an answer to record, never a hop (a 301 to 10.0.0.1 goes nowhere);
- **a deadline**: ``timeout`` seconds for the whole exchange (connect, send, headers, body);
- **a size cap**: only the first ``max_body`` bytes of the response are read, then the connection
  is dropped, so a 100 MB answer costs 4 KB.

:meth:`Sender.post` never raises for anything the remote end does: it returns a :class:`Result`
with the status or the error text.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

PrivatePolicy = Literal["off", "loopback", "all"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESPONSE_HEAD = 4096


class BlockedAddress(OSError):
    """The URL's host resolves only to addresses the operator's policy refuses."""


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


def _blocked_message(host: str, why: str, address: str) -> str:
    return (
        f"{host} resolves to {why} {address}; the operator has not allowed private app URLs "
        "(APPDOCK_ALLOW_PRIVATE_APP_URLS)"
    )


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and keeps only the addresses ``policy`` allows."""

    def __init__(self, policy: PrivatePolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = [r for r in results if address_refusal(r["host"], self.policy) is None]
        if not allowed and results:
            first = results[0]["host"]
            why = address_refusal(first, self.policy) or "a refused address"
            raise BlockedAddress(_blocked_message(host, why, first))
        return allowed

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class Result:
    """What one attempt got back."""

    started: float  # wall-clock seconds
    duration_ms: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    blocked: bool = False  # refused by the address policy: no retry

    @property
    def network_error(self) -> bool:
        return self.status is None


class Sender:
    """An aiohttp session with the guard; create inside a running event loop."""

    def __init__(
        self,
        policy: PrivatePolicy,
        *,
        timeout: float = 10.0,
        limit: int = 100,
        max_body: int = RESPONSE_HEAD,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_body = max_body
        self._refusals: dict[str, str | None] = {}  # url -> refusal of an IP-literal host
        connector = aiohttp.TCPConnector(
            limit=limit,
            limit_per_host=0,
            resolver=GuardedResolver(policy, resolver),
            ttl_dns_cache=10,
            enable_cleanup_closed=False,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            raise_for_status=False,
        )

    async def close(self) -> None:
        await self.session.close()

    def _literal_refusal(self, url: str) -> str | None:
        if url in self._refusals:
            return self._refusals[url]
        if len(self._refusals) > 4096:
            self._refusals.clear()
        refusal = self._refusals[url] = self._check_literal(url)
        return refusal

    def _check_literal(self, url: str) -> str | None:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return None
        try:
            ipaddress.ip_address(host.strip("[]").split("%")[0])
        except ValueError:
            return None  # a name: the resolver checks it
        why = address_refusal(host.strip("[]"), self.policy)
        return _blocked_message(host, why, host) if why else None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Result:
        started = time.time()
        t0 = time.perf_counter()

        def done(**kw: Any) -> Result:
            return Result(started=started, duration_ms=(time.perf_counter() - t0) * 1000, **kw)

        refusal = self._literal_refusal(url)
        if refusal:
            return done(error=refusal, blocked=True)
        status: int | None = None
        response_headers: dict[str, str] = {}
        chunks: list[bytes] = []
        try:
            async with self.session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                response_headers = dict(response.headers.items())
                size = 0
                while size < self.max_body:
                    chunk = await response.content.read(self.max_body - size)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                if not response.content.at_eof():
                    response.close()  # drop the connection rather than drain a huge body
            return done(status=status, headers=response_headers, body=b"".join(chunks))
        except aiohttp.ClientConnectorError as exc:
            blocked = isinstance(exc.os_error, BlockedAddress)
            reason = str(exc.os_error) if blocked else _describe(exc)
            return done(error=reason, blocked=blocked)
        except TimeoutError:
            if status is None:
                return done(error=f"timed out after {self.timeout:g} s waiting for an answer")
            return done(
                status=status,
                headers=response_headers,
                body=b"".join(chunks),
                error=f"timed out after {self.timeout:g} s reading the body",
            )
        except aiohttp.InvalidURL as exc:
            return done(error=f"invalid URL: {exc}", blocked=True)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if status is not None:
                return done(
                    status=status,
                    headers=response_headers,
                    body=b"".join(chunks),
                    error=f"the body was cut off: {_describe(exc)}",
                )
            return done(error=_describe(exc))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
