"""Absolute URLs under BASE_URL, the way Bitbucket puts them in every ``links`` object, and the
check that keeps ``next=`` parameters from becoming open redirects."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


class Urls:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.api_root = self.base + "/api"

    def api(self, *parts: str) -> str:
        return self.api_root + "/2.0/" + "/".join(quote(p, safe="{}-._~:@") for p in parts)

    def html(self, *parts: str) -> str:
        return self.base + "/" + "/".join(quote(p, safe="{}-._~:@") for p in parts)

    @staticmethod
    def link(href: str) -> dict[str, str]:
        return {"href": href}


def local_path(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default`` (for ``next=`` parameters).

    Refused: absolute URLs, protocol-relative ``//host``, backslashes (browsers read
    ``/\\host`` as ``//host``) and control characters.

    >>> local_path("/acme/widget?tab=1"), local_path("//evil.example")
    ('/acme/widget?tab=1', '/')
    """
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
