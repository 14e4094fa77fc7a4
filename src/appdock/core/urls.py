"""Absolute URLs under BASE_URL, the way Bitbucket puts them in every ``links`` object."""

from __future__ import annotations

from urllib.parse import quote


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
