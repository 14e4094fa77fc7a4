"""The descriptor model and its lint: real descriptors pass; bad ones name the path and fault."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from appdock.connect.descriptor import (
    ConfigurePage,
    DescriptorError,
    WebPanel,
    lint_descriptor,
    load_json,
    parse_descriptor,
)
from appdock.core.scopes import ALL_SCOPES, Scope
from tests.factories.connect import descriptor

DATA = Path(__file__).parent / "data" / "descriptors"

# Placeholders of the compat descriptors, filled in as SOURCES.md describes.
FILL = {
    "localBaseUrl": "https://app.example.com",
    "BITBUCKET_APP_KEY": "panto-bot",
    "BITBUCKET_APP_BASE_URL": "https://panto.example.com",
    "APP_URL": "https://docmeup.example.com",
    "GITCONNECTOR_BITBUCKET_HOST": "https://docmeup.example.com",
    "getBitBucketAppKey": "fensak-app-test",
    "name": "Fensak",
    "appURL": "https://fensak.example.com",
    "dashboardAppURL": "https://dashboard.fensak.example.com",
    "bitbucket.oauthConsumerID": "consumer-id",
    "hostname": "sentry.example.com",
    "absolute_uri": "https://sentry.example.com",
    "consumerKey": "consumer-key",
    "ADDRESS": "https://kicad.example.com",
    "BASE_PATH": "/kicad",
}
ERB = {
    "plugin_key": "stars-for-bitbucket",
    "plugin_name": "Stars for Bitbucket",
    "base_url": "https://stars.example.com",
    "client_id": "stars-consumer",
}


def filled(path: Path) -> Any:
    text = path.read_text()
    text = re.sub(r"\{\{([^}]+)\}\}", lambda m: FILL[m.group(1)], text)
    text = re.sub(r"<%= (\w+) %>", lambda m: ERB[m.group(1)], text)
    data = json.loads(text)
    if path.name == "qodo-ai__pr-agent.json":  # bare words replaced by the app when serving
        data["key"] = "pr-agent"
        data["baseUrl"] = "https://pr-agent.example.com"
    if path.name == "toolchainlabs__toolchain-oss.json":  # nulls filled at runtime (views_test.py)
        data.update(
            key="toolchain-dev",
            name="Toolchain",
            description="Toolchain builds",
            baseUrl="https://jambalaya.seinfeld.george",
        )
        data["lifecycle"] = {
            "installed": "/bitbucket/app/install/",
            "uninstalled": "/bitbucket/app/uninstall/",
        }
        data["modules"]["webhooks"][0]["url"] = "/bitbucket/webhook/"
    return data


COMPAT = sorted(DATA.glob("*.json"))


class TestCompatDescriptors:
    def test_all_sixteen_are_present(self) -> None:
        assert len(COMPAT) == 16

    @pytest.mark.parametrize("path", COMPAT, ids=[p.stem for p in COMPAT])
    def test_real_descriptor_lints_clean(self, path: Path) -> None:
        result = lint_descriptor(filled(path), require_https=True)
        assert result.errors == [], [str(e) for e in result.errors]
        assert result.descriptor is not None
        assert result.descriptor.requested_scopes <= ALL_SCOPES

    def test_gregaubert_singular_modules_are_folded_into_plural_types(self) -> None:
        d = parse_descriptor(filled(DATA / "gregaubert__bitbucket-connect-test.json"))
        assert [p.key for p in d.modules.web_panels] == [
            "webpanelrepooverview",
            "webpanelproverview",
        ]
        assert [p.location for p in d.modules.repo_pages] == [
            "org.bitbucket.repository.navigation",
            "org.bitbucket.repository.actions",
            "org.bitbucket.repository.navigation",
        ]
        assert d.modules.web_items[0].target is not None
        assert d.modules.web_items[0].target.type == "dialog"
        assert d.modules.admin_pages[0].location == "org.bitbucket.repository.admin"
        assert isinstance(d.modules.configure_page, ConfigurePage)
        assert d.modules.file_views[0].file_matches.extensions == ["md"]
        assert "helpPanel" in d.modules.unknown
        assert d.lifecycle_url("installed") is None

    def test_sentry_upper_case_jwt_is_jwt(self) -> None:
        d = parse_descriptor(filled(DATA / "getsentry__sentry.json"))
        assert d.authentication.type == "jwt"
        assert d.uses_jwt
        assert d.lifecycle_url("installed") == (
            "https://sentry.example.com/extensions/bitbucket/installed/"
        )
        assert d.modules.post_install_redirect is not None

    def test_missing_contexts_default_to_account(self) -> None:
        d = parse_descriptor(filled(DATA / "tundraray__atlassian-connect-bitbucket.json"))
        assert d.contexts == ["account"]

    def test_configure_page_array_of_one_is_the_page(self) -> None:
        d = parse_descriptor(filled(DATA / "minhiriathaen__oqcp-bitbucket.json"))
        assert d.modules.configure_page is not None
        assert d.modules.configure_page.key == "edit-workspace-mapping"
        assert "webCards" not in d.modules.unknown
        assert d.modules.web_cards

    def test_landkid_proxy_and_conditions_are_typed(self) -> None:
        d = parse_descriptor(filled(DATA / "atlassian-archive__landkid.json"))
        assert set(d.modules.proxy) == {"/can-land", "/land", "/land-when-able"}
        panel = d.modules.web_panels[0]
        assert isinstance(panel, WebPanel)
        assert panel.conditions[0].condition == "has_permission"
        assert panel.conditions[0].params == {"permission": "write"}
        assert d.base_url == "https://sattard.au.ngrok.io"  # trailing slash dropped

    def test_relative_urls_join_onto_the_base_path(self) -> None:
        d = parse_descriptor(filled(DATA / "PantoDev__pantomax.json"))
        assert d.lifecycle_url("installed") == "https://panto.example.com/bitbucket/installed"
        assert d.base_path == "/bitbucket"
        greg = parse_descriptor(filled(DATA / "gregaubert__bitbucket-connect-test.json"))
        assert greg.resolve_url("connect-app/test.html?x=1") == (
            "https://3b4b27bd.ngrok.io/connect-app/test.html?x=1"
        )
        assert greg.resolve_url("https://elsewhere.example/x") == "https://elsewhere.example/x"


def errors_of(data: Any, **kw: Any) -> list[str]:
    return [str(e) for e in lint_descriptor(data, **kw).errors]


def warnings_of(data: Any) -> list[str]:
    return [str(w) for w in lint_descriptor(data).warnings]


class TestLintErrors:
    def test_unknown_location_names_path_and_value(self) -> None:
        d = descriptor(
            modules={
                "webPanels": [
                    {
                        "key": "p",
                        "name": {"value": "P"},
                        "url": "/p",
                        "location": "org.bitbucket.foo",
                    }
                ]
            }
        )
        assert errors_of(d) == [
            'modules.webPanels[0].location: unknown location "org.bitbucket.foo"'
        ]

    def test_unknown_location_under_a_legacy_name_names_what_was_written(self) -> None:
        d = descriptor(
            modules={
                "webPanel": [
                    {"key": "p", "name": {"value": "P"}, "url": "/p", "location": "nonsense"}
                ]
            }
        )
        assert errors_of(d) == ['modules.webPanel[0].location: unknown location "nonsense"']

    def test_unknown_scope_is_an_error_naming_it(self) -> None:
        errors = errors_of(descriptor(scopes=["account", "repository:everything"]))
        assert len(errors) == 1
        assert errors[0].startswith('scopes[1]: unknown scope "repository:everything"')

    def test_unknown_oauth_consumer_scope_is_an_error(self) -> None:
        d = descriptor(modules={"oauthConsumer": {"clientId": "x", "scopes": ["mind:read"]}})
        assert errors_of(d)[0].startswith("modules.oauthConsumer.scopes[0]: unknown scope")

    @pytest.mark.parametrize("field", ["key", "name", "baseUrl", "authentication"])
    def test_missing_required_field(self, field: str) -> None:
        d = descriptor()
        del d[field]
        assert f"{field}: is required" in errors_of(d)

    def test_not_an_object(self) -> None:
        assert errors_of(["a"]) == ["the descriptor must be a JSON object, not list"]

    def test_wrong_types_name_the_field(self) -> None:
        d = descriptor(name=5, authentication={"type": "oauth"})
        errors = errors_of(d)
        assert "name: must be a non-empty string" in errors
        assert any(e.startswith('authentication.type: "oauth" is not one of') for e in errors)

    def test_module_missing_url(self) -> None:
        d = descriptor(
            modules={
                "webItems": [
                    {
                        "key": "i",
                        "name": {"value": "I"},
                        "location": "org.bitbucket.repository.navigation",
                    }
                ]
            }
        )
        assert errors_of(d) == ["modules.webItems[0].url: is required"]

    def test_bad_app_key(self) -> None:
        assert errors_of(descriptor(key="has spaces"))[0].startswith(
            'key: "has spaces" is not a valid app key'
        )

    def test_bad_and_duplicate_module_keys(self) -> None:
        panel = {
            "name": {"value": "P"},
            "url": "/p",
            "location": "org.bitbucket.repository.overview.informationPanel",
        }
        d = descriptor(
            modules={
                "webPanels": [{**panel, "key": "same"}, {**panel, "key": "bad_key!"}],
                "repoPages": [
                    {**panel, "key": "same", "location": "org.bitbucket.repository.navigation"}
                ],
            }
        )
        errors = errors_of(d)
        assert any(
            e.startswith('modules.webPanels[1].key: "bad_key!" is not a valid module key')
            for e in errors
        )
        assert (
            'modules.repoPages[0].key: "same" is already the key of modules.webPanels[0]' in errors
        )

    def test_module_key_longer_than_128(self) -> None:
        d = descriptor(
            modules={"profileTabs": [{"key": "k" * 129, "name": {"value": "T"}, "url": "/t"}]}
        )
        assert errors_of(d)[0].startswith("modules.profileTabs[0].key:")

    def test_two_configure_pages(self) -> None:
        page = {"key": "c", "name": {"value": "C"}, "url": "/c"}
        d = descriptor(modules={"configurePage": [page, {**page, "key": "d"}]})
        assert errors_of(d) == ["modules.configurePage: at most one is allowed (got 2)"]

    def test_http_base_url_when_https_is_required(self) -> None:
        d = descriptor(baseUrl="http://app.example.com")
        assert errors_of(d) == []
        errors = errors_of(d, require_https=True)
        assert errors
        assert errors[0].startswith('baseUrl: must use https (got "http://app.example.com")')

    def test_base_url_not_absolute(self) -> None:
        assert errors_of(descriptor(baseUrl="/relative"))[0] == (
            'baseUrl: "/relative" is not an absolute http(s) URL'
        )

    def test_url_too_long_and_unbalanced_braces(self) -> None:
        base = {
            "name": {"value": "P"},
            "location": "org.bitbucket.repository.overview.informationPanel",
        }
        d = descriptor(
            modules={
                "webPanels": [
                    {**base, "key": "a", "url": "/" + "x" * 2048},
                    {**base, "key": "b", "url": "/p?repo={repository.uuid"},
                ]
            }
        )
        errors = errors_of(d)
        assert errors[0].startswith("modules.webPanels[0].url: is 2049 characters long")
        assert errors[1].startswith("modules.webPanels[1].url:")
        assert "unbalanced braces" in errors[1]

    def test_bad_linker_regex(self) -> None:
        d = descriptor(modules={"linkers": [{"key": "l", "regex": "(unclosed", "url": "/x"}]})
        assert errors_of(d)[0].startswith("modules.linkers[0].regex: is not a valid regular")

    def test_web_item_may_sit_in_the_apps_own_section(self) -> None:
        d = descriptor(
            modules={
                "webSections": [
                    {
                        "key": "sec",
                        "name": {"value": "S"},
                        "location": "org.bitbucket.repository.actions",
                    }
                ],
                "webItems": [
                    {
                        "key": "i",
                        "name": {"value": "I"},
                        "url": "/i",
                        "location": "org.bitbucket.repository.actions/sec",
                    }
                ],
            }
        )
        assert errors_of(d) == []

    def test_composition_condition_needs_conditions(self) -> None:
        d = descriptor(
            modules={
                "webPanels": [
                    {
                        "key": "p",
                        "name": {"value": "P"},
                        "url": "/p",
                        "location": "org.bitbucket.repository.overview.informationPanel",
                        "conditions": [{"type": "and"}],
                    }
                ]
            }
        )
        assert errors_of(d) == [
            'modules.webPanels[0].conditions[0]: needs either "condition" or both "type" and '
            '"conditions"'
        ]

    def test_malformed_json_names_line_and_column(self) -> None:
        with pytest.raises(DescriptorError) as caught:
            load_json('{"key": "x",\n  "name": }')
        assert "malformed JSON at line 2 column" in caught.value.message

    def test_parse_descriptor_raises_with_every_problem(self) -> None:
        with pytest.raises(DescriptorError) as caught:
            parse_descriptor(descriptor(key=None, scopes=["nope"]))
        assert [str(p) for p in caught.value.problems][:1] == ["key: must not be null"]
        assert caught.value.status_code == 400


class TestLintWarnings:
    def test_unknown_top_level_key_is_a_warning(self) -> None:
        d = descriptor(frobnicate=True)
        assert errors_of(d) == []
        assert "frobnicate: unknown top-level field; it will be ignored" in warnings_of(d)

    def test_unknown_module_type_is_a_warning(self) -> None:
        d = descriptor(modules={"jiraIssueGlances": [{"key": "g"}]})
        assert errors_of(d) == []
        assert "modules.jiraIssueGlances: unknown module type; it will be ignored" in warnings_of(d)

    def test_unknown_event_and_condition_are_warnings(self) -> None:
        d = descriptor(
            modules={
                "webhooks": [{"event": "repo:exploded", "url": "/h"}],
                "webPanels": [
                    {
                        "key": "p",
                        "name": {"value": "P"},
                        "url": "/p",
                        "location": "org.bitbucket.repository.overview.informationPanel",
                        "conditions": [{"condition": "moon_is_full"}],
                    }
                ],
            }
        )
        assert errors_of(d) == []
        warnings = warnings_of(d)
        assert any(
            w.startswith('modules.webhooks[0].event: unknown event "repo:exploded"')
            for w in warnings
        )
        assert any(
            w.startswith("modules.webPanels[0].conditions[0].condition: unknown condition")
            for w in warnings
        )

    def test_html_in_name_is_accepted(self) -> None:
        assert errors_of(descriptor(name="<script>alert(1)</script>")) == []


class TestDefaults:
    def test_missing_scopes_means_all_scopes(self) -> None:
        d = descriptor()
        del d["scopes"]
        parsed = parse_descriptor(d)
        assert parsed.asks_all_scopes
        assert parsed.requested_scopes == ALL_SCOPES

    def test_declared_scopes_are_parsed(self) -> None:
        parsed = parse_descriptor(descriptor(scopes=["pullrequest", "Account"]))
        assert parsed.requested_scopes == {Scope.PULLREQUEST, Scope.ACCOUNT}

    def test_modules_at_location_sorted_by_weight(self) -> None:
        loc = "org.bitbucket.repository.overview.informationPanel"
        d = parse_descriptor(
            descriptor(
                modules={
                    "webPanels": [
                        {
                            "key": "b",
                            "name": {"value": "B"},
                            "url": "/b",
                            "location": loc,
                            "weight": 20,
                        },
                        {
                            "key": "a",
                            "name": {"value": "A"},
                            "url": "/a",
                            "location": loc,
                            "weight": 10,
                        },
                    ]
                }
            )
        )
        assert [m.key for m in d.modules.at_location(loc)] == ["a", "b"]
        assert d.modules.find("b") is not None
        assert d.modules.find("zz") is None
