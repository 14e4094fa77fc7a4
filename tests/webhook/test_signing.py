from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import jwt
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from appdock.connect import jwt as connect_jwt
from appdock.webhook import signing
from appdock.webhook.signing import Target

SHARED = "shared-secret-" + "s" * 40
EVENT_TIME = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


class TestQsh:
    @pytest.mark.parametrize(
        ("method", "url", "base", "expected"),
        [
            (
                "GET",
                "/path",
                "",
                "799be84a7fa35570087163c0cd9af3abff7ac05c2c12ba0bb1d7eebc984b3ac2",
            ),
            ("GET", "/", "", "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239"),
            (
                "GET",
                "https://example.com/test?param=value",
                "",
                "be16910858a41fd19ea5c1b4e9decca9a784d1024cb00b2158defe2f29dc86dd",
            ),
            (
                "GET",
                "/test?ids=-1&ids=1&ids=10&ids=2&ids=20",
                "",
                "a646c48741faaeb649f9ca7888ae029ead432e3806f56c4a57b80b3e2ac628a9",
            ),
            (
                "GET",
                "/test?A=A&a=a&b=b&B=B",
                "",
                "539adc2b0aef2ec8659825893b8b92e6a53c9483e2150b8185b08490d8b6de60",
            ),
            (
                "POST",
                "/jira/rest/api/2/project&a=b?x=y",
                "/jira",
                "fa48f57a98d3995f12c96664dae66fccc41a5b5dd8305ff6838d04b4b469cb17",
            ),
            (
                "POST",
                "https://app.example.com/bb/webhook",
                "/bb",
                "202e1fcb819506f8ba2d4f2eba43dc8b9f635f263eb53df8a64dea718eeedeb6",
            ),
            (
                "GET",
                "/test?param=some+spaces+in+this+parameter",
                "",
                "ef4097d05395eaf1a133956f140116a9c411afad768d4f06daac9e305764265d",
            ),
        ],
    )
    def test_spec_vectors_match(self, method: str, url: str, base: str, expected: str) -> None:
        assert connect_jwt.qsh(method, url, base) == expected


class TestConnectToken:
    def test_claims_bind_client_key_and_the_webhook_path(self) -> None:
        token = signing.connect_token(
            client_key="ck-1",
            shared_secret=SHARED,
            url="https://app.example.com/bb/webhook",
            app_base_url="https://app.example.com/bb",
            now=1_700_000_000,
        )
        claims = jwt.decode(
            token,
            SHARED,
            algorithms=["HS256"],
            audience="ck-1",
            options={"verify_exp": False},
        )
        assert claims["iss"] == "ck-1"
        assert claims["aud"] == "ck-1"
        assert claims["exp"] - claims["iat"] == 180
        assert claims["qsh"] == hashlib.sha256(b"POST&/webhook&").hexdigest()

    def test_wrong_secret_does_not_verify(self) -> None:
        token = signing.connect_token(
            client_key="ck", shared_secret=SHARED, url="http://a/h", app_base_url="http://a"
        )
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, SHARED + "x", algorithms=["HS256"], audience="ck")


class TestBody:
    def test_connect_body_is_wrapped(self) -> None:
        target = Target(subscription_uuid="{h}", url="http://a/h", kind="connect")
        body = json.loads(signing.encode_body(target, "repo:push", {"push": {}}))
        assert body == {"event": "repo:push", "data": {"push": {}}}

    def test_plain_body_is_bare(self) -> None:
        target = Target(subscription_uuid="{h}", url="http://a/h", kind="repository")
        assert json.loads(signing.encode_body(target, "repo:push", {"push": {}})) == {"push": {}}


class TestPlainSignatures:
    SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    def _headers(self, secret: str, body: bytes) -> dict[str, str]:
        target = Target(
            subscription_uuid="{hook}", url="http://a/h", kind="repository", secret=secret
        )
        return signing.request_headers(
            target,
            delivery_uuid="{d-1}",
            event_key="repo:push",
            event_time=EVENT_TIME,
            attempt=2,
            body=body,
        )

    def test_whsec_secret_verifies_with_standardwebhooks(self) -> None:
        body = b'{"push":{"changes":[]}}'
        headers = self._headers(self.SECRET, body)
        assert Webhook(self.SECRET).verify(body, headers) == {"push": {"changes": []}}

    def test_plain_secret_verifies_with_its_own_bytes(self) -> None:
        body = b'{"a":1}'
        headers = self._headers("not base64 at all!", body)
        assert Webhook(b"not base64 at all!").verify(body, headers) == {"a": 1}

    def test_tampered_body_fails_verification(self) -> None:
        headers = self._headers(self.SECRET, b'{"a":1}')
        with pytest.raises(WebhookVerificationError):
            Webhook(self.SECRET).verify(b'{"a":2}', headers)

    def test_hub_signature_is_hmac_of_the_secret_text(self) -> None:
        body = b'{"a":1}'
        headers = self._headers(self.SECRET, body)
        want = hmac.new(self.SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Hub-Signature"] == "sha256=" + want

    def test_standard_key_of_whsec_is_base64_decoded(self) -> None:
        assert signing.standard_key("whsec_" + base64.b64encode(b"key").decode()) == b"key"

    def test_no_secret_no_signatures(self) -> None:
        target = Target(subscription_uuid="{h}", url="http://a/h", kind="workspace")
        headers = signing.request_headers(
            target,
            delivery_uuid="{d}",
            event_key="repo:push",
            event_time=EVENT_TIME,
            attempt=1,
            body=b"{}",
        )
        assert "X-Hub-Signature" not in headers
        assert "webhook-signature" not in headers


class TestHeaders:
    def test_bitbucket_headers_are_present(self) -> None:
        target = Target(subscription_uuid="{hook}", url="http://a/h", kind="repository")
        headers = signing.request_headers(
            target,
            delivery_uuid="{d}",
            event_key="repo:push",
            event_time=EVENT_TIME,
            attempt=3,
            body=b"{}",
        )
        assert headers["X-Event-Key"] == "repo:push"
        assert headers["X-Hook-UUID"] == "{hook}"
        assert headers["X-Request-UUID"] == "{d}"
        assert headers["webhook-id"] == "{d}"
        assert headers["X-Attempt-Number"] == "3"
        assert headers["X-Event-Time"] == "Mon, 30 Nov 2026 12:00:00 GMT"
        assert headers["User-Agent"] == "Bitbucket-Webhooks/2.0"
        assert headers["Content-Type"] == "application/json"

    def test_connect_delivery_carries_a_jwt(self) -> None:
        target = Target(
            subscription_uuid="{h}",
            url="http://app.test/base/hook",
            kind="connect",
            secret=SHARED,
            client_key="ck",
            base_url="http://app.test/base",
        )
        headers = signing.request_headers(
            target,
            delivery_uuid="{d}",
            event_key="repo:push",
            event_time=EVENT_TIME,
            attempt=1,
            body=b"{}",
        )
        scheme, token = headers["Authorization"].split(" ")
        assert scheme == "JWT"
        claims = jwt.decode(token, SHARED, algorithms=["HS256"], audience="ck")
        assert claims["qsh"] == hashlib.sha256(b"POST&/hook&").hexdigest()
        assert "X-Hub-Signature" not in headers

    def test_logged_headers_mask_the_jwt_signature(self) -> None:
        logged = signing.loggable_headers({"Authorization": "JWT a.b.c", "X-Event-Key": "k"})
        assert logged == {"Authorization": "JWT a.b.<signature>", "X-Event-Key": "k"}
