"""Signed module URLs: the JWT verifies with atlassian-jwt's Authenticator as an app would."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import atlassian_jwt
import jwt
import pytest

from appdock.connect.ui.signing import (
    TOKENS,
    ModuleUrlRequest,
    TokenCache,
    build_module_url,
    inside_base,
    join_app_url,
)
from appdock.core.scopes import Scope, closure
from tests.factories.connect_ui import APP_BASE, HOST, SECRET, VIEWER, page_objects


class AppAuthenticator(atlassian_jwt.Authenticator):  # type: ignore[misc]
    def get_shared_secret(self, client_key: str) -> str:
        assert client_key == "client-key-1"
        return SECRET


def request(**overrides: Any) -> ModuleUrlRequest:
    values: dict[str, Any] = {
        "base_url": APP_BASE,
        "module_url": "/panel?repo={repository.full_name}&pr={pullrequest.id}&q=a+b",
        "module_key": "panel",
        "client_key": "client-key-1",
        "shared_secret": SECRET,
        "authentication": "jwt",
        "scopes": closure({Scope.PULLREQUEST}),
        "objects": page_objects(),
        "host_base_url": HOST,
        "viewer_uuid": VIEWER,
    }
    values.update(overrides)
    return ModuleUrlRequest(**values)


def app_side_url(url: str, base_path: str = "/bb") -> str:
    """What an app passes to atlassian-jwt: the request URL relative to its baseUrl path."""
    parts = urlsplit(url)
    return parts.path[len(base_path) :] + "?" + parts.query


class TestBuildModuleUrl:
    def test_token_verifies_like_an_app_verifies_it(self) -> None:
        built = build_module_url(request())
        assert built.signed and built.inside_app
        client_key, claims = AppAuthenticator().authenticate("GET", app_side_url(built.url))
        assert client_key == "client-key-1"
        assert claims["aud"] == "client-key-1"
        assert claims["sub"] == VIEWER
        assert claims["exp"] - claims["iat"] == 180

    def test_url_is_base_plus_module_with_params_and_bridge_query(self) -> None:
        built = build_module_url(request())
        parts = urlsplit(built.url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == APP_BASE + "/panel"
        query = parse_qs(parts.query, keep_blank_values=True)
        assert query["repo"] == ["acme/widget"]
        assert query["pr"] == ["7"]
        assert query["q"] == ["a b"]
        assert query["xdm_e"] == [HOST]
        assert query["xdm_c"] == ["channel-panel"]
        assert query["cp"] == [""]
        assert built.origin == "https://app.example.com"
        assert "repo=acme%2Fwidget" in built.url

    def test_tampered_query_fails_verification(self) -> None:
        built = build_module_url(request())
        tampered = built.url.replace("pr=7", "pr=8")
        with pytest.raises(jwt.DecodeError):
            AppAuthenticator().authenticate("GET", app_side_url(tampered))

    def test_qsh_is_relative_to_the_base_path(self) -> None:
        built = build_module_url(request())
        with pytest.raises(jwt.DecodeError):
            # Hashing the full path (without stripping /bb) must not match.
            AppAuthenticator().authenticate(
                "GET", urlsplit(built.url).path + "?" + urlsplit(built.url).query
            )

    def test_anonymous_viewer_gets_no_subject(self) -> None:
        built = build_module_url(request(viewer_uuid=None))
        _, claims = AppAuthenticator().authenticate("GET", app_side_url(built.url))
        assert "sub" not in claims

    def test_host_path_prefix_becomes_cp(self) -> None:
        built = build_module_url(request(host_base_url="https://corp.example.com/git"))
        query = parse_qs(urlsplit(built.url).query, keep_blank_values=True)
        assert query["cp"] == ["/git"]
        assert query["xdm_e"] == ["https://corp.example.com"]

    def test_app_cannot_spoof_bridge_params_or_jwt(self) -> None:
        built = build_module_url(request(module_url="/p?xdm_e=https://evil&jwt=forged&cp=/x"))
        query = parse_qs(urlsplit(built.url).query, keep_blank_values=True)
        assert query["xdm_e"] == [HOST]
        assert query["cp"] == [""]
        assert len(query["jwt"]) == 1 and query["jwt"] != ["forged"]
        AppAuthenticator().authenticate("GET", app_side_url(built.url))

    def test_dropped_parameters_are_reported(self) -> None:
        built = build_module_url(request(scopes=frozenset({Scope.REPOSITORY})))
        assert [d.name for d in built.dropped] == ["pullrequest.id"]
        assert "pr=&" in built.url

    def test_url_outside_the_base_gets_no_token(self) -> None:
        built = build_module_url(
            request(module_url="https://elsewhere.example.com/x?r={repo_path}")
        )
        assert not built.signed and not built.inside_app
        assert built.url == "https://elsewhere.example.com/x?r=acme%2Fwidget"
        assert "jwt" not in built.url

    def test_sibling_path_of_the_base_gets_no_token(self) -> None:
        built = build_module_url(request(module_url="https://app.example.com/bbx/panel"))
        assert not built.signed

    def test_authentication_none_sends_no_token(self) -> None:
        built = build_module_url(request(authentication="none"))
        assert built.inside_app and not built.signed
        assert "jwt=" not in built.url and "xdm_e=" in built.url


class TestUrlHelpers:
    @pytest.mark.parametrize(
        ("module_url", "expected"),
        [
            ("/panel", "https://app.example.com/bb/panel"),
            ("panel", "https://app.example.com/bb/panel"),
            ("https://other.example.com/x", "https://other.example.com/x"),
            ("javascript:alert(1)", "https://app.example.com/bb/javascript:alert(1)"),
            ("//other.example.com/x", "https://other.example.com/x"),
        ],
    )
    def test_join_app_url(self, module_url: str, expected: str) -> None:
        assert join_app_url(APP_BASE, module_url) == expected

    def test_inside_base(self) -> None:
        assert inside_base("https://app.example.com/bb/x", APP_BASE)
        assert inside_base("https://APP.example.com/bb", APP_BASE)
        assert not inside_base("https://app.example.com/bbx", APP_BASE)
        assert not inside_base("http://app.example.com/bb/x", APP_BASE)
        assert inside_base("https://app.example.com/any", "https://app.example.com")


class TestTokenReuse:
    def test_same_url_and_viewer_reuse_the_token_within_the_window(self) -> None:
        TOKENS.clear()
        first = build_module_url(request()).url
        assert build_module_url(request()).url == first

    def test_another_viewer_url_or_secret_gets_its_own_token(self) -> None:
        TOKENS.clear()
        base = build_module_url(request()).url
        other_viewer = build_module_url(
            request(viewer_uuid="{00000000-0000-4000-8000-0000000000b0}")
        )
        assert other_viewer.url != base
        other_secret = build_module_url(request(shared_secret=SECRET + "-rotated"))
        assert other_secret.url.split("jwt=")[1] != base.split("jwt=")[1]
        client_key, _ = AppAuthenticator().authenticate("GET", app_side_url(base))
        assert client_key == "client-key-1"

    def test_expired_entries_are_minted_again(self) -> None:
        cache = TokenCache(reuse=-1.0)  # every entry is already too old
        key = ("u", "/", "ck", "s", None)
        cache.put(key, "token")
        assert cache.get(key) is None

    def test_explicit_time_never_uses_the_cache(self) -> None:
        TOKENS.clear()
        cached = build_module_url(request()).url
        assert build_module_url(request(), now=1_000).url != cached
