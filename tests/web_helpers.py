"""Helpers for page tests: read the CSRF token from a page and log in through the form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def post_form(client: TestClient, page_url: str, action: str, data: dict[str, str]) -> object:
    token = csrf_from(client.get(page_url).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)
