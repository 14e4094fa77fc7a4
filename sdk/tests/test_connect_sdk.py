"""appdock_connect against the host contract: lifecycle signing table, request verification,
signed API calls, webhooks. Tokens from the host side are made with the atlassian-jwt package."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import atlassian_jwt
import httpx
import jwt as pyjwt
import pytest

from appdock_connect import (
    ConnectApp,
    InstallRefused,
    JSONFileTenantStore,
    MemoryTenantStore,
    Tenant,
    TokenInvalid,
    UnknownTenant,
    canonical_request,
    query_string_hash,
)

KEY = "com.example.hello"
S1 = "first-shared-secret-" + "a" * 24
S2 = "second-shared-secret-" + "b" * 24
BAD = "not-the-secret-" + "c" * 24


def payload(secret: str = S1, client_key: str = "ck-1") -> dict[str, Any]:
    return {
        "key": KEY,
        "clientKey": client_key,
        "sharedSecret": secret,
        "publicKey": "x",
        "baseUrl": "http://host.test",
        "baseApiUrl": "http://host.test/api",
        "productType": "bitbucket",
        "eventType": "installed",
        "principal": {"type": "team", "uuid": "{t}"},
        "user": {"type": "user", "uuid": "{u}"},
    }


def host_token(method: str, url: str, secret: str, client_key: str = "ck-1", **extra: Any) -> str:
    """A host→app token as appdock and Bitbucket send it: iss = aud = clientKey."""
    now = int(time.time())
    claims = {
        "iss": client_key,
        "aud": client_key,
        "iat": now,
        "exp": now + 180,
        "qsh": query_string_hash(method, url, "/bb"),
        **extra,
    }
    return pyjwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def app() -> ConnectApp:
    return ConnectApp(KEY, MemoryTenantStore(), base_url="https://apps.example.com/bb")


class TestQsh:
    def test_spec_vectors(self) -> None:
        assert query_string_hash("GET", "/path") == (
            "799be84a7fa35570087163c0cd9af3abff7ac05c2c12ba0bb1d7eebc984b3ac2"
        )
        assert canonical_request("POST", "/jira/rest/api/2/project&a=b?x=y", "/jira") == (
            "POST&/rest/api/2/project%26a=b&x=y"
        )
        assert query_string_hash("GET", "/test?ids=-1&ids=1&ids=10&ids=2&ids=20") == (
            "a646c48741faaeb649f9ca7888ae029ead432e3806f56c4a57b80b3e2ac628a9"
        )

    def test_matches_atlassian_jwt(self) -> None:
        from atlassian_jwt.url_utils import hash_url

        url = "/panel?repo=%7Babc%7D&b=2&a=some+spaces&jwt=zzz"
        assert query_string_hash("GET", url) == hash_url("GET", url)


class TestInstalled:
    def test_first_install_is_unsigned_and_stored(self, app: ConnectApp) -> None:
        tenant = app.installed(
            method="POST", url="/bb/installed", headers={}, body=json.dumps(payload())
        )
        assert tenant.client_key == "ck-1"
        assert tenant.base_api_url == "http://host.test/api"
        assert app.tenants.get("ck-1") == tenant

    def test_unsigned_reinstall_is_refused(self, app: ConnectApp) -> None:
        app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(payload()))
        with pytest.raises(InstallRefused, match="previous secret"):
            app.installed(
                method="POST",
                url="/bb/installed",
                headers={},
                body=json.dumps(payload(secret="attacker-" + "d" * 30)),
            )
        tenant = app.tenants.get("ck-1")
        assert tenant is not None and tenant.shared_secret == S1

    def test_reinstall_signed_with_previous_secret_rotates(self, app: ConnectApp) -> None:
        app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(payload()))
        token = host_token("POST", "/bb/installed", S1)
        app.installed(
            method="POST",
            url="/bb/installed",
            headers={"Authorization": f"JWT {token}"},
            body=json.dumps(payload(secret=S2)),
        )
        tenant = app.tenants.get("ck-1")
        assert tenant is not None and tenant.shared_secret == S2

    def test_reinstall_signed_with_new_secret_is_refused(self, app: ConnectApp) -> None:
        app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(payload()))
        token = host_token("POST", "/bb/installed", S2)
        with pytest.raises(InstallRefused):
            app.installed(
                method="POST",
                url="/bb/installed",
                headers={"Authorization": f"JWT {token}"},
                body=json.dumps(payload(secret=S2)),
            )

    @pytest.mark.parametrize("missing", ["clientKey", "sharedSecret", "baseUrl"])
    def test_missing_fields_are_named(self, app: ConnectApp, missing: str) -> None:
        body = payload()
        del body[missing]
        with pytest.raises(InstallRefused, match=missing):
            app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(body))

    def test_payload_for_another_app_is_refused(self, app: ConnectApp) -> None:
        body = payload() | {"key": "someone.else"}
        with pytest.raises(InstallRefused, match=r"someone\.else"):
            app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(body))


class TestUninstalled:
    def test_signed_uninstall_deletes_tenant(self, app: ConnectApp) -> None:
        app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(payload()))
        token = host_token("POST", "/bb/uninstalled", S1)
        app.uninstalled(
            method="POST",
            url="/bb/uninstalled",
            headers={"authorization": f"JWT {token}"},
            body=json.dumps(payload() | {"eventType": "uninstalled"}),
        )
        assert app.tenants.get("ck-1") is None

    def test_forged_uninstall_is_refused(self, app: ConnectApp) -> None:
        app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(payload()))
        with pytest.raises(InstallRefused):
            app.uninstalled(
                method="POST", url="/bb/uninstalled", headers={}, body=json.dumps(payload())
            )
        assert app.tenants.get("ck-1") is not None


class TestVerify:
    @pytest.fixture(autouse=True)
    def _tenant(self, app: ConnectApp) -> None:
        app.installed(method="POST", url="/bb/installed", headers={}, body=json.dumps(payload()))

    def test_iframe_url_from_atlassian_jwt(self, app: ConnectApp) -> None:
        url = "/bb/panel?repo=acme%2Fwidget&xdm_e=http%3A%2F%2Fhost.test"
        token = atlassian_jwt.encode_token("GET", url.removeprefix("/bb"), "ck-1", S1)
        ctx = app.verify("GET", f"{url}&jwt={token}", {})
        assert ctx.tenant.client_key == "ck-1"

    def test_sub_is_the_viewer(self, app: ConnectApp) -> None:
        token = host_token("GET", "/bb/page", S1, sub="{viewer}")
        assert app.verify("GET", f"/bb/page?jwt={token}", {}).user_id == "{viewer}"

    def test_webhook_header(self, app: ConnectApp) -> None:
        token = host_token("POST", "/bb/webhook", S1)
        assert (
            app.verify("POST", "/bb/webhook", {"Authorization": f"JWT {token}"}).claims["iss"]
            == "ck-1"
        )

    def test_qsh_bound_to_other_request_is_refused(self, app: ConnectApp) -> None:
        token = host_token("GET", "/bb/page?x=1", S1)
        with pytest.raises(TokenInvalid, match="qsh"):
            app.verify("GET", f"/bb/page?x=2&jwt={token}", {})

    def test_expired_is_refused(self, app: ConnectApp) -> None:
        token = host_token("GET", "/bb/page", S1, exp=int(time.time()) - 600)
        with pytest.raises(TokenInvalid, match="expired"):
            app.verify("GET", f"/bb/page?jwt={token}", {})

    def test_alg_none_is_refused(self, app: ConnectApp) -> None:
        now = int(time.time())
        token = pyjwt.encode(
            {"iss": "ck-1", "exp": now + 60, "qsh": query_string_hash("GET", "/page")},
            None,
            algorithm="none",
        )
        with pytest.raises(TokenInvalid, match="HS256"):
            app.verify("GET", f"/bb/page?jwt={token}", {})

    def test_wrong_secret_is_refused(self, app: ConnectApp) -> None:
        token = host_token("GET", "/bb/page", BAD)
        with pytest.raises(TokenInvalid, match="signature"):
            app.verify("GET", f"/bb/page?jwt={token}", {})

    def test_unknown_tenant(self, app: ConnectApp) -> None:
        token = host_token("GET", "/bb/page", S1, client_key="ck-9")
        with pytest.raises(UnknownTenant):
            app.verify("GET", f"/bb/page?jwt={token}", {})

    def test_no_token(self, app: ConnectApp) -> None:
        with pytest.raises(TokenInvalid, match="no JWT"):
            app.verify("GET", "/bb/page", {})


class TestClient:
    def test_requests_are_signed_relative_to_base_api_url(self) -> None:
        seen: list[dict[str, Any]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            token = request.headers["authorization"].removeprefix("JWT ")
            claims = pyjwt.decode(token, S1, algorithms=["HS256"])
            seen.append(claims)
            assert claims["qsh"] == query_string_hash("GET", "/2.0/repositories/acme?pagelen=5")
            return httpx.Response(200, json={"ok": True})

        app = ConnectApp(KEY, MemoryTenantStore(), transport=httpx.MockTransport(handler))
        tenant = Tenant.from_payload(payload())
        with app.client(tenant) as api:
            assert api.get("/2.0/repositories/acme", params={"pagelen": 5}).json() == {"ok": True}
        assert seen[0]["iss"] == KEY and seen[0]["sub"] == "ck-1"

    def test_access_token_uses_jwt_bearer_grant(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/site/oauth2/access_token"
            assert b"grant_type=urn%3Abitbucket%3Aoauth2%3Ajwt" in request.content
            claims = pyjwt.decode(request.headers["authorization"][4:], S1, algorithms=["HS256"])
            assert claims["qsh"] == query_string_hash("POST", "/site/oauth2/access_token")
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})

        app = ConnectApp(KEY, MemoryTenantStore(), transport=httpx.MockTransport(handler))
        assert app.access_token(Tenant.from_payload(payload()))["access_token"] == "t"


class TestWebhooks:
    def test_wrapped_connect_body(self) -> None:
        event = ConnectApp.parse_webhook(json.dumps({"event": "repo:push", "data": {"push": {}}}))
        assert event.event == "repo:push" and "push" in event.data

    def test_plain_body_takes_event_from_header(self) -> None:
        event = ConnectApp.parse_webhook(json.dumps({"push": {}}), {"X-Event-Key": "repo:push"})
        assert event.event == "repo:push" and event.data == {"push": {}}


class TestJSONFileTenantStore:
    def test_round_trip_and_delete(self, tmp_path: Path) -> None:
        store = JSONFileTenantStore(tmp_path / "t.json")
        tenant = Tenant.from_payload(payload())
        store.put(tenant)
        assert JSONFileTenantStore(tmp_path / "t.json").get("ck-1") == tenant
        assert oct((tmp_path / "t.json").stat().st_mode)[-3:] == "600"
        store.delete("ck-1")
        assert store.get("ck-1") is None
