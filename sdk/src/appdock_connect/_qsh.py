"""The query string hash (qsh): SHA-256 of ``METHOD&canonical-path&canonical-query``."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, quote, urlsplit


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_request(method: str, url: str, base_path: str = "") -> str:
    """The canonical request string for ``url`` (path and query as sent on the wire).

    >>> canonical_request("get", "/bb/panel?b=2&a=1&jwt=x", base_path="/bb")
    'GET&/panel&a=1&b=2'
    """
    parts = urlsplit(url)
    path = parts.path
    base = base_path.rstrip("/")
    if base and path.startswith(base):
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
        _encode(k) + "=" + ",".join(_encode(v) for v in sorted(params[k])) for k in sorted(params)
    )
    return f"{method.upper()}&{path}&{query}"


def query_string_hash(method: str, url: str, base_path: str = "") -> str:
    return hashlib.sha256(canonical_request(method, url, base_path).encode()).hexdigest()
