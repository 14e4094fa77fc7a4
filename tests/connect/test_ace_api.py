"""An app built with atlassian-connect-express reads the host's REST API as its installation:
``addon.httpClient(req).get('/2.0/user/')`` and a repository read return real data (ACE signs
with qsh over ``/2.0/...`` while the request goes to ``/api/2.0/...``)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from appdock.models import User, Workspace
from tests.connect.test_e2e import (  # noqa: F401  (fixtures)
    AceApp,
    LiveHost,
    ace_app,
    ace_dir,
    admin,
    install,
    live_host,
)
from tests.factories.account import make_user
from tests.factories.pullrequest import make_repo

pytestmark = pytest.mark.e2e


def test_ace_reads_its_principal_and_a_private_repository(
    live_host: LiveHost,  # noqa: F811
    admin: dict[str, str],  # noqa: F811
    ace_app: AceApp,  # noqa: F811
    db: Session,
) -> None:
    acme = db.query(Workspace).filter_by(slug="acme").one()
    alice = db.query(User).filter_by(username="alice").one()
    bob = make_user(db, "bob")
    make_repo(db, live_host.settings, alice, "widget", workspace=acme)
    make_repo(db, live_host.settings, bob, "private-of-bob")
    installed = install(live_host, ace_app.base + "/atlassian-connect.json", admin)
    assert installed.status_code == 201, installed.text + ace_app.log.read_text()[-2000:]
    client_key = installed.json()["clientKey"]

    r = ace_app.get("/test/user-and-repo", params={"clientKey": client_key, "repo": "acme/widget"})
    assert r.status_code == 200, r.text
    user, repository = r.json()["user"], r.json()["repository"]
    assert user["status"] == 200, user
    assert user["body"]["type"] == "team" and user["body"]["username"] == "acme"
    assert user["body"]["uuid"] == acme.uuid
    assert repository["status"] == 200, repository
    assert repository["body"]["full_name"] == "acme/widget"
    assert repository["body"]["is_private"] is True
    assert repository["body"]["links"]["self"]["href"].startswith(live_host.api)

    # the same client cannot see a repository of another account
    r = ace_app.get(
        "/test/user-and-repo", params={"clientKey": client_key, "repo": "bob/private-of-bob"}
    )
    assert r.json()["repository"]["status"] == 404
