"""Real clients against a running server (uvicorn on loopback):

- a Python app that signs its requests with the ``atlassian-jwt`` package (``encode_token`` plus
  the ``iss``/``sub`` claims Bitbucket wants) and reads pull requests;
- atlassian-python-api's Bitbucket ``Cloud`` client running its calls with an installation access
  token from the JWT bearer grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from atlassian.bitbucket import Cloud
from atlassian_jwt import encode_token

from tests.e2e.conftest import LiveServer, live  # noqa: F401  (fixture)
from tests.factories.account import make_team, make_user
from tests.factories.connect import make_installation
from tests.factories.pullrequest import make_branch, make_repo, open_pr

pytestmark = pytest.mark.e2e

APP_KEY = "com.example.python-app"


@dataclass
class Tenant:
    """What a Python app keeps from the ``installed`` callback."""

    key: str
    clientKey: str
    sharedSecret: str
    baseApiUrl: str


class PythonApp:
    """A minimal Connect app client: relative paths under ``baseApiUrl``, qsh over the path."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get(self, path: str) -> httpx.Response:
        token = encode_token(
            "GET",
            path,
            self.tenant.clientKey,
            self.tenant.sharedSecret,
            timeout_secs=180,
            payload_kwargs={"iss": self.tenant.key, "sub": self.tenant.clientKey},
        )
        return httpx.get(
            self.tenant.baseApiUrl + path, headers={"Authorization": f"JWT {token}"}, timeout=20
        )


@pytest.fixture
def tenant(live: LiveServer) -> Tenant:  # noqa: F811
    with live.sessions() as session:
        alice = make_user(session, "alice")
        acme = make_team(session, "acme", alice, name="Acme")
        repo = make_repo(session, live.settings, alice, "widget", workspace=acme)
        make_branch(live.settings, repo, "feature", {"feature.txt": "new\n"})
        open_pr(session, live.settings, alice, repo, "feature", title="Add the feature")
        mallory = make_user(session, "mallory")
        other = make_team(session, "other", mallory)
        hidden = make_repo(session, live.settings, mallory, "secret", workspace=other)
        make_branch(live.settings, hidden, "leak", {"leak.txt": "no\n"})
        open_pr(session, live.settings, mallory, hidden, "leak", title="Hidden")
        inst, secret = make_installation(
            session, acme, alice, key=APP_KEY, scopes="account repository pullrequest"
        )
        return Tenant(APP_KEY, inst.client_key, secret, live.base + "/api")


class TestAtlassianJwtApp:
    def test_reads_pull_requests(self, tenant: Tenant) -> None:
        app = PythonApp(tenant)
        r = app.get("/2.0/repositories/acme/widget/pullrequests?state=OPEN")
        assert r.status_code == 200, r.text
        [pr] = r.json()["values"]
        assert pr["title"] == "Add the feature" and pr["state"] == "OPEN"
        assert pr["source"]["branch"]["name"] == "feature"
        one = app.get(f"/2.0/repositories/acme/widget/pullrequests/{pr['id']}")
        assert one.status_code == 200 and one.json()["id"] == pr["id"]
        diffstat = app.get(f"/2.0/repositories/acme/widget/pullrequests/{pr['id']}/diffstat")
        assert [v["new"]["path"] for v in diffstat.json()["values"]] == ["feature.txt"]

    def test_another_teams_pull_requests_are_invisible(self, tenant: Tenant) -> None:
        r = PythonApp(tenant).get("/2.0/repositories/other/secret/pullrequests")
        assert r.status_code == 404

    def test_the_aud_claim_of_encode_token_does_not_matter_but_the_secret_does(
        self, tenant: Tenant
    ) -> None:
        forged = Tenant(tenant.key, tenant.clientKey, "not-the-secret-" * 3, tenant.baseApiUrl)
        r = PythonApp(forged).get("/2.0/repositories/acme/widget/pullrequests")
        assert r.status_code == 401 and "signature" in r.json()["error"]["message"]


def access_token(live: LiveServer, tenant: Tenant) -> dict[str, Any]:  # noqa: F811
    token = encode_token(
        "POST",
        "/site/oauth2/access_token",
        tenant.clientKey,
        tenant.sharedSecret,
        timeout_secs=180,
        payload_kwargs={"iss": tenant.key, "sub": tenant.clientKey},
    )
    r = httpx.post(
        live.base + "/site/oauth2/access_token",
        data={"grant_type": "urn:bitbucket:oauth2:jwt"},
        headers={"Authorization": f"JWT {token}"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


class TestAtlassianPythonApiWithAnAccessToken:
    def test_cloud_client_reads_through_the_access_token(
        self,
        live: LiveServer,  # noqa: F811
        tenant: Tenant,
    ) -> None:
        grant = access_token(live, tenant)
        cloud = Cloud(url=live.base + "/api", token=grant["access_token"], cloud=True)
        workspace = cloud.workspaces.get("acme")
        assert workspace.slug == "acme" and workspace.name == "Acme"
        repo = workspace.repositories.get("widget")
        assert repo.slug == "widget" and repo.is_private
        assert [r.slug for r in workspace.repositories.each()] == ["widget"]
        assert sorted(b.name for b in repo.branches.each()) == ["feature", "main"]
        [pr] = list(repo.pullrequests.each())
        assert pr.title == "Add the feature" and pr.source_branch == "feature"
        assert [c.hash for c in repo.commits.each()]
        me = httpx.get(
            live.base + "/api/2.0/user",
            headers={"Authorization": f"Bearer {grant['access_token']}"},
            timeout=20,
        )
        assert me.json()["username"] == "acme" and me.json()["type"] == "team"
        assert [w.slug for w in cloud.workspaces.each()] == ["acme"]
