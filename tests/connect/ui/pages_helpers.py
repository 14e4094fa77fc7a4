"""Shared arrangements for the page wiring tests: descriptors with UI modules, installations,
and readers that pull app elements and their signed URLs out of rendered pages."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt
from atlassian_jwt.url_utils import hash_url

from tests.factories.connect import descriptor

APP_BASE = "https://app.example.com"

_MODULE = re.compile(r'data-ap-module="([^"]*)"')


def ui_descriptor(key: str = "com.example.app", **modules: Any) -> dict[str, Any]:
    """A descriptor with a repoPage, a repository overview webPanel and a PR webPanel, unless
    ``modules`` gives others."""
    defaults: dict[str, Any] = {
        "repoPages": [
            {
                "key": "dashboard",
                "name": {"value": "App dashboard"},
                "url": "/page?repo={repository.full_name}",
                "location": "org.bitbucket.repository.navigation",
            }
        ],
        "webPanels": [
            {
                "key": "repo-panel",
                "name": {"value": "Repository panel"},
                "url": "/panel?repo={repository.uuid}",
                "location": "org.bitbucket.repository.overview.informationPanel",
            },
            {
                "key": "pr-panel",
                "name": {"value": "Pull request panel"},
                "url": "/pr-panel?pr={pullrequest.id}",
                "location": "org.bitbucket.pullrequest.overview.informationPanel",
            },
        ],
    }
    defaults.update(modules)
    raw = descriptor(key, baseUrl=APP_BASE, modules=defaults)
    raw["name"] = f"App {key}"
    return raw


def module_data(page: str) -> list[dict[str, Any]]:
    """Every ``data-ap-module`` JSON of a page (iframes and dialog triggers)."""
    return [json.loads(html.unescape(m)) for m in _MODULE.findall(page)]


def frames(page: str) -> dict[str, dict[str, Any]]:
    return {d["moduleKey"]: d for d in module_data(page)}


def verify(url: str, secret: str, client_key: str) -> dict[str, Any]:
    """Verify a signed iframe URL as the app would: signature, aud, then qsh over the request."""
    token = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))["jwt"]
    claims: dict[str, Any] = pyjwt.decode(token, secret, algorithms=["HS256"], audience=client_key)
    assert claims["iss"] == client_key
    parts = urlsplit(url)
    assert claims["qsh"] == hash_url("GET", parts.path + "?" + parts.query)
    return claims
