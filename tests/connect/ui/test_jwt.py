"""The private canonical-request / qsh / signing module, against connect-spec.md §6.4 vectors."""

from __future__ import annotations

import hashlib

import jwt
import pytest

from appdock.connect.ui import _jwt


class TestCanonicalRequest:
    @pytest.mark.parametrize(
        ("method", "url", "base", "canonical", "digest"),
        [
            (
                "GET",
                "/path",
                "",
                "GET&/path&",
                "799be84a7fa35570087163c0cd9af3abff7ac05c2c12ba0bb1d7eebc984b3ac2",
            ),
            (
                "GET",
                "/",
                "",
                "GET&/&",
                "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239",
            ),
            (
                "GET",
                "",
                "",
                "GET&/&",
                "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239",
            ),
            (
                "GET",
                "/hello-world?lic=none&tz=Australia%2FSydney&cp=%2Fjira&user_key=&loc=en-US"
                "&user_id=&jwt=abc.def.ghi&xdm_e=http%3A%2F%2Fstorm%3A2990"
                "&xdm_c=channel-servlet-hello-world&xdm_p=1",
                "",
                "GET&/hello-world&cp=%2Fjira&lic=none&loc=en-US&tz=Australia%2FSydney&user_id="
                "&user_key=&xdm_c=channel-servlet-hello-world&xdm_e=http%3A%2F%2Fstorm%3A2990"
                "&xdm_p=1",
                "8063ff4ca1e41df7bc90c8ab6d0f6207d491cf6dad7c66ea797b4614b71922e9",
            ),
            (
                "GET",
                "https://example.com/test?param=value",
                "",
                "GET&/test&param=value",
                "be16910858a41fd19ea5c1b4e9decca9a784d1024cb00b2158defe2f29dc86dd",
            ),
            (
                "GET",
                "https://example.com/test?param=some+spaces+in+this+parameter",
                "",
                "GET&/test&param=some%20spaces%20in%20this%20parameter",
                "ef4097d05395eaf1a133956f140116a9c411afad768d4f06daac9e305764265d",
            ),
            (
                "GET",
                "https://example.com/test?ids=-1&ids=1&ids=10&ids=2&ids=20",
                "",
                "GET&/test&ids=-1,1,10,2,20",
                "a646c48741faaeb649f9ca7888ae029ead432e3806f56c4a57b80b3e2ac628a9",
            ),
            (
                "GET",
                "https://example.com/test?A=A&a=a&b=b&B=B",
                "",
                "GET&/test&A=A&B=B&a=a&b=b",
                "539adc2b0aef2ec8659825893b8b92e6a53c9483e2150b8185b08490d8b6de60",
            ),
            (
                "POST",
                "/jira/rest/api/2/project&a=b?x=y",
                "/jira",
                "POST&/rest/api/2/project%26a=b&x=y",
                "fa48f57a98d3995f12c96664dae66fccc41a5b5dd8305ff6838d04b4b469cb17",
            ),
            (
                "GET",
                "/bb/panel?repoUuid=%7B5f8a2b1c-0000-4000-8000-000000000001%7D&prId=7"
                "&xdm_e=https%3A%2F%2Fgit.example.com&jwt=x.y.z",
                "/bb",
                "GET&/panel&prId=7&repoUuid=%7B5f8a2b1c-0000-4000-8000-000000000001%7D"
                "&xdm_e=https%3A%2F%2Fgit.example.com",
                "1fb7410c7f51a3d9d13c4eefa6c076c6078d814b29e9d1433152a0c5ac198de0",
            ),
            (
                "POST",
                "https://app.example.com/bb/webhook",
                "/bb",
                "POST&/webhook&",
                "202e1fcb819506f8ba2d4f2eba43dc8b9f635f263eb53df8a64dea718eeedeb6",
            ),
        ],
    )
    def test_published_vector_matches(
        self, method: str, url: str, base: str, canonical: str, digest: str
    ) -> None:
        assert _jwt.canonical_request(method, url, base) == canonical
        assert _jwt.query_string_hash(method, url, base) == digest
        assert hashlib.sha256(canonical.encode()).hexdigest() == digest

    def test_base_path_is_stripped_only_at_a_segment_boundary(self) -> None:
        assert _jwt.canonical_request("GET", "/bbx/panel", "/bb") == "GET&/bbx/panel&"
        assert _jwt.canonical_request("GET", "/bb", "/bb") == "GET&/&"

    def test_trailing_slash_is_dropped(self) -> None:
        assert _jwt.canonical_request("get", "/panel/", "") == "GET&/panel&"


class TestSignHostToken:
    def test_claims_name_the_installation_and_viewer(self) -> None:
        token = _jwt.sign_host_token(
            client_key="ck",
            shared_secret="s" * 32,
            method="GET",
            url="/bb/p?a=1",
            base_path="/bb",
            subject="{u}",
            now=1_700_000_000,
        )
        claims = jwt.decode(
            token,
            "s" * 32,
            algorithms=["HS256"],
            audience="ck",
            options={"verify_exp": False},
        )
        assert claims == {
            "iss": "ck",
            "aud": "ck",
            "sub": "{u}",
            "iat": 1_700_000_000,
            "exp": 1_700_000_180,
            "qsh": _jwt.query_string_hash("GET", "/p?a=1"),
        }
        assert jwt.get_unverified_header(token)["alg"] == "HS256"

    def test_anonymous_viewer_has_no_subject(self) -> None:
        token = _jwt.sign_host_token(
            client_key="ck",
            shared_secret="s" * 32,
            method="GET",
            url="/p",
            base_path="",
            subject=None,
        )
        claims = jwt.decode(token, "s" * 32, algorithms=["HS256"], audience="ck")
        assert "sub" not in claims
