"""qsh and JWTs: the spec's vectors, the 33-case interop set, atlassian-jwt both ways."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import atlassian_jwt
import jwt as pyjwt
import pytest
from atlassian_jwt.url_utils import hash_url

from appdock.connect import jwt

INTEROP = json.loads((Path(__file__).parent / "data" / "jwt-signed-urls.json").read_text())
SECRET = "a-shared-secret-of-at-least-thirty-two-bytes"


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
                "get",
                "/hello-world?lic=none&tz=Australia%2FSydney&cp=%2Fjira&user_key=&loc=en-US"
                "&user_id=&jwt=abc.def.ghi&xdm_e=http%3A%2F%2Fstorm%3A2990"
                "&xdm_c=channel-servlet-hello-world&xdm_p=1",
                "",
                "GET&/hello-world&cp=%2Fjira&lic=none&loc=en-US&tz=Australia%2FSydney&user_id="
                "&user_key=&xdm_c=channel-servlet-hello-world&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_p=1",
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
                "https://api.bitbucket.org/2.0/repositories/acme/widget/pullrequests"
                "?state=OPEN&pagelen=50",
                "",
                "GET&/2.0/repositories/acme/widget/pullrequests&pagelen=50&state=OPEN",
                "edcead9cb06cdb01821b6173b4b94fdbbc9d98067f98fd7848a13e64bc9bf409",
            ),
            (
                "GET",
                "https://app.example.com/bb/panel?repoUuid=%7B5f8a2b1c-0000-4000-8000-"
                "000000000001%7D&prId=7&xdm_e=https%3A%2F%2Fgit.example.com&jwt=x.y.z",
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
            (
                "POST",
                "https://app.example.com/bb/installed",
                "/bb",
                "POST&/installed&",
                "4a2e1de8ca74e6cafe8862d332fa3ac7a8e51e692bc6d798ea4dfedc14948bf4",
            ),
        ],
    )
    def test_spec_vector(
        self, method: str, url: str, base: str, canonical: str, digest: str
    ) -> None:
        assert jwt.canonical_request(method, url, base) == canonical
        assert jwt.qsh(method, url, base) == digest

    def test_trailing_slash_is_dropped_and_path_is_not_decoded(self) -> None:
        assert jwt.canonical_request("GET", "/2.0/user/") == "GET&/2.0/user&"
        assert jwt.canonical_request("GET", "/a%20b/c%2Fd") == "GET&/a%20b/c%2Fd&"

    def test_base_path_strips_only_at_a_segment_boundary(self) -> None:
        assert jwt.canonical_uri("/bbx/panel", "/bb") == "/bbx/panel"
        assert jwt.canonical_uri("/bb", "/bb") == "/"

    def test_blank_values_are_kept(self) -> None:
        assert jwt.canonical_request("GET", "/t?a&b=") == "GET&/t&a=&b="


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
class TestInteroperabilitySet:
    def test_has_33_cases(self) -> None:
        assert len(INTEROP["tests"]) == 33

    @pytest.mark.parametrize("case", INTEROP["tests"], ids=[t["name"] for t in INTEROP["tests"]])
    def test_canonical_qsh_and_signature(self, case: dict[str, Any]) -> None:
        url = case["signedUrl"]
        assert jwt.canonical_request("GET", url) == case["canonicalUrl"]
        token = parse_qs(urlsplit(url).query)["jwt"][0]
        claims = jwt.verify_signature(token, INTEROP["secret"])
        assert jwt.check_qsh(claims, [jwt.canonical_request("GET", url)]) == case["canonicalUrl"]
        assert jwt.qsh("GET", url) == hash_url("GET", url.split("&jwt=")[0].split("example.com")[1])


class TestHostTokens:
    def test_atlassian_jwt_accepts_a_signed_iframe_url(self) -> None:
        url = jwt.signed_url(
            "https://app.example.com/bb/panel?repo=%7Babc%7D&pr=7",
            client_key="ck-1",
            shared_secret=SECRET,
            app_base_url="https://app.example.com/bb",
            user_uuid="{user-uuid}",
        )
        relative = url.removeprefix("https://app.example.com/bb")

        class App(atlassian_jwt.Authenticator):  # type: ignore[misc]
            def get_shared_secret(self, client_key: str) -> str:
                assert client_key == "ck-1"
                return SECRET

        result = App().authenticate("GET", relative, {})
        assert result.client_key == "ck-1"
        assert result.claims["aud"] == "ck-1"
        assert result.claims["sub"] == "{user-uuid}"
        assert result.claims["exp"] - result.claims["iat"] == 180

    def test_extra_params_are_covered_by_the_qsh(self) -> None:
        url = jwt.signed_url(
            "https://app.example.com/done",
            client_key="ck",
            shared_secret=SECRET,
            app_base_url="https://app.example.com",
            extra_params={"client_key": "ck"},
        )
        assert "client_key=ck&jwt=" in url
        token = parse_qs(urlsplit(url).query)["jwt"][0]
        claims = pyjwt.decode(token, SECRET, algorithms=["HS256"], audience="ck")
        assert claims["qsh"] == hash_url("GET", "/done?client_key=ck")

    def test_anonymous_token_has_no_sub(self) -> None:
        claims = jwt.host_claims(
            client_key="ck",
            method="POST",
            url="https://a.example/x",
            app_base_url="https://a.example",
            now=1000,
        )
        assert "sub" not in claims
        assert claims["iat"] == 1000
        assert claims["exp"] == 1180


class TestAppTokens:
    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": "com.example.app",
            "sub": "ck",
            "iat": now,
            "exp": now + 180,
            "qsh": hash_url("GET", "/2.0/user"),
        }
        body.update(claims)
        return pyjwt.encode(
            {k: v for k, v in body.items() if v is not None}, SECRET, algorithm="HS256"
        )

    def test_an_ace_style_token_verifies(self) -> None:
        token = self.token()
        read = jwt.read_app_token(token)
        assert (read.issuer, read.client_key) == ("com.example.app", "ck")
        claims = jwt.verify_app_token(token, secret=SECRET, canonicals=["GET&/2.0/user&"])
        assert claims["sub"] == "ck"

    def test_alg_none_is_refused(self) -> None:
        token = pyjwt.encode({"iss": "a", "sub": "b"}, None, algorithm="none")
        with pytest.raises(jwt.JwtRefused) as caught:
            jwt.read_app_token(token)
        assert caught.value.check == "algorithm"
        assert "'none'" in caught.value.message

    def test_other_hmac_algorithms_are_refused(self) -> None:
        token = pyjwt.encode({"iss": "a", "sub": "b"}, SECRET * 2, algorithm="HS512")
        with pytest.raises(jwt.JwtRefused, match="'HS512' is not accepted"):
            jwt.read_app_token(token)

    def test_missing_sub_explains_iss_and_sub(self) -> None:
        with pytest.raises(jwt.JwtRefused, match="missing 'sub' claim; it must be the clientKey"):
            jwt.read_app_token(self.token(sub=None))

    def test_bad_signature(self) -> None:
        with pytest.raises(jwt.JwtRefused) as caught:
            jwt.verify_app_token(self.token(), secret=SECRET + "x", canonicals=["GET&/2.0/user&"])
        assert caught.value.check == "signature"

    def test_expiry_leeway_is_sixty_seconds(self) -> None:
        now = time.time()
        token = self.token(exp=int(now) - 30)
        jwt.verify_app_token(token, secret=SECRET, canonicals=["GET&/2.0/user&"], now=now)
        with pytest.raises(jwt.JwtRefused) as caught:
            jwt.verify_app_token(token, secret=SECRET, canonicals=["GET&/2.0/user&"], now=now + 60)
        assert caught.value.check == "expired"

    def test_missing_exp_is_refused(self) -> None:
        with pytest.raises(jwt.JwtRefused, match="'exp'"):
            jwt.verify_app_token(self.token(exp=None), secret=SECRET, canonicals=["GET&/2.0/user&"])

    def test_qsh_is_required(self) -> None:
        with pytest.raises(jwt.JwtRefused, match="missing 'qsh'"):
            jwt.verify_app_token(self.token(qsh=None), secret=SECRET, canonicals=["GET&/2.0/user&"])

    def test_qsh_mismatch_names_the_canonical_requests(self) -> None:
        with pytest.raises(jwt.JwtRefused) as caught:
            jwt.verify_app_token(
                self.token(), secret=SECRET, canonicals=["GET&/2.0/users&", "GET&/api/2.0/users&"]
            )
        assert caught.value.check == "qsh"
        assert "'GET&/2.0/users&' or 'GET&/api/2.0/users&'" in caught.value.message

    def test_malformed_token(self) -> None:
        with pytest.raises(jwt.JwtRefused, match="three dot-separated parts"):
            jwt.read_app_token("not-a-jwt")
