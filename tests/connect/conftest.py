"""Fixtures for the app platform: a fake Connect app on loopback, logged-in browsers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.connect.fakeapp import FakeApp
from tests.factories.account import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def fake_app() -> Iterator[FakeApp]:
    app = FakeApp()
    yield app
    app.close()


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "next": "/",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def form_token(client: TestClient, path: str = "/account/settings") -> str:
    return csrf_from(client.get(path).text)
