"""Host → app iframe tokens: the canonical request, its query string hash, and HS256 signing.

A private stand-in for the shared ``appdock.connect.jwt`` (built on another branch): when the
branches merge, :func:`canonical_request`, :func:`query_string_hash` and :func:`sign_host_token`
are replaced by the shared primitives and this module is deleted. The algorithm is
connect-spec.md §6.4; the tests check the published vectors.

    >>> canonical_request("GET", "/bb/panel?b=2&a=1&jwt=x", base_path="/bb")
    'GET&/panel&a=1&b=2'
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qsl, quote, urlsplit

import jwt

TOKEN_LIFETIME_SECONDS = 180


def _encode(value: str) -> str:
    # RFC 3986 unreserved only: A-Z a-z 0-9 - . _ ~ stay, everything else is %XX (upper hex).
    return quote(value, safe="~")


def canonical_request(method: str, url: str, base_path: str = "") -> str:
    """``METHOD&URI&QUERY`` for a URL as sent on the wire (path still percent-encoded).

    ``base_path`` is the receiver's base path (the app's ``baseUrl`` path for host → app
    requests); it is stripped from the front of the path.
    """
    parts = urlsplit(url)
    path = parts.path
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :]
    path = (path or "/").replace("&", "%26")
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "jwt":
            params.setdefault(key, []).append(value)
    query = "&".join(
        _encode(key) + "=" + ",".join(_encode(v) for v in sorted(params[key]))
        for key in sorted(params)
    )
    return f"{method.upper()}&{path}&{query}"


def query_string_hash(method: str, url: str, base_path: str = "") -> str:
    return hashlib.sha256(canonical_request(method, url, base_path).encode()).hexdigest()


def sign_host_token(
    *,
    client_key: str,
    shared_secret: str,
    method: str,
    url: str,
    base_path: str,
    subject: str | None,
    now: int | None = None,
    lifetime: int = TOKEN_LIFETIME_SECONDS,
) -> str:
    """A host → app JWT (§6.2): ``iss`` = ``aud`` = clientKey, ``sub`` = the viewer if any."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, object] = {
        "iss": client_key,
        "aud": client_key,
        "iat": issued,
        "exp": issued + lifetime,
        "qsh": query_string_hash(method, url, base_path),
    }
    if subject:
        claims["sub"] = subject
    return jwt.encode(claims, shared_secret, algorithm="HS256")
