"""An installation access token from the JWT bearer grant, used by the real git CLI as
``x-token-auth:<token>`` against a running server; refused after the app is uninstalled."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from appdock.connect.service import ConnectService
from appdock.core.urls import Urls
from appdock.models import Installation
from tests.e2e.conftest import Git, LiveServer, git, live  # noqa: F401  (fixtures)
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import app_jwt, make_installation
from tests.factories.repo import make_repo, seed_history

pytestmark = pytest.mark.e2e

TOKEN = "/site/oauth2/access_token"


def test_git_clones_and_pushes_with_the_access_token_until_uninstall(
    live: LiveServer,  # noqa: F811
    git: Git,  # noqa: F811
    tmp_path: Path,
) -> None:
    with live.sessions() as session:
        alice = make_user(session, "alice")
        acme = make_team(session, "acme", alice)
        ctx = make_repo(session, live.settings, alice, "widget", workspace=acme)
        seed_history(session, live.settings, ctx, count=2)
        inst, secret = make_installation(
            session, acme, key="com.example.git", scopes="repository:write"
        )
        installation_id, client_key = inst.id, inst.client_key
    token = app_jwt(
        app_key="com.example.git", client_key=client_key, secret=secret, method="POST", path=TOKEN
    )
    r = httpx.post(
        live.base + TOKEN,
        data={"grant_type": "urn:bitbucket:oauth2:jwt"},
        headers={"Authorization": f"JWT {token}"},
    )
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    remote = live.url("/acme/widget.git", "x-token-auth", access)

    work = tmp_path / "w"
    git("clone", remote, str(work))
    git.commit(work, {"app.txt": "written by an app\n"}, "from the app")
    git("push", "origin", "main", cwd=work)
    assert "app.txt" in git("ls-tree", "--name-only", "origin/main", cwd=work).stdout

    with live.sessions() as session:
        row = session.get(Installation, installation_id)
        assert row is not None
        ConnectService(session, SECRET, Urls(live.base)).uninstall(row)
        session.commit()
    refused = git("ls-remote", remote, check=False)
    assert refused.returncode != 0 and "invalid access token" in refused.stderr
