"""Context parameter substitution (connect-spec.md §2.2)."""

from __future__ import annotations

from typing import Any

import pytest

from appdock.connect.ui.context import (
    LEGACY_NAMES,
    ROOT_SCOPES,
    DropReason,
    expand_value,
    parameters,
    substitute,
)
from appdock.core.scopes import ALL_SCOPES, Scope, closure
from tests.factories.connect_ui import page_objects

EVERY_ROOT: dict[str, dict[str, Any]] = {
    "user": {"uuid": "{u}"},
    "target_user": {"uuid": "{t}"},
    "workspace": {"slug": "acme"},
    "principal": {"uuid": "{p}"},
    "repository": {"full_name": "acme/widget"},
    "branch": {"name": "feature/x", "target": {"hash": "f00"}},
    "commit": {"hash": "abc"},
    "file": {"path": "src/a b.py", "name": "a b.py", "commit": {"hash": "c0ffee"}},
    "directory": {"links": {"self": {"href": "https://h/x?y=1"}}},
    "pullrequest": {"id": 7},
    "snippet": {"name": "snip"},
    "issue": {"key": "ISS-1"},
    "app": {"key": "com.example.app"},
}
SAMPLE_PATHS = {
    "user": ("user.uuid", "%7Bu%7D"),
    "target_user": ("target_user.uuid", "%7Bt%7D"),
    "workspace": ("workspace.slug", "acme"),
    "principal": ("principal.uuid", "%7Bp%7D"),
    "repository": ("repository.full_name", "acme%2Fwidget"),
    "branch": ("branch.name", "feature%2Fx"),
    "commit": ("commit.hash", "abc"),
    "file": ("file.path", "src%2Fa%20b.py"),
    "directory": ("directory.links.self.href", "https%3A%2F%2Fh%2Fx%3Fy%3D1"),
    "pullrequest": ("pullrequest.id", "7"),
    "snippet": ("snippet.name", "snip"),
    "issue": ("issue.key", "ISS-1"),
    "app": ("app.key", "com.example.app"),
}


class TestSubstitute:
    @pytest.mark.parametrize("root", sorted(ROOT_SCOPES))
    def test_every_root_resolves_with_its_scope(self, root: str) -> None:
        path, expected = SAMPLE_PATHS[root]
        needed = ROOT_SCOPES[root]
        scopes = frozenset({needed}) if needed else frozenset()
        result = substitute("/x?v={" + path + "}", EVERY_ROOT, scopes)
        assert result.url == "/x?v=" + expected
        assert result.dropped == ()

    @pytest.mark.parametrize("root", sorted(r for r, s in ROOT_SCOPES.items() if s is not None))
    def test_every_gated_root_is_dropped_without_its_scope(self, root: str) -> None:
        path, _ = SAMPLE_PATHS[root]
        needed = ROOT_SCOPES[root]
        others = frozenset(s for s in ALL_SCOPES if s not in closure({needed}) and s != needed)
        others = frozenset(s for s in others if needed not in closure({s}))
        result = substitute("/x?v={" + path + "}", EVERY_ROOT, others)
        assert result.url == "/x?v="
        assert [d.reason for d in result.dropped] == [DropReason.MISSING_SCOPE]
        assert needed is not None and needed.value in result.dropped[0].detail

    def test_pullrequest_scope_implies_repository_through_the_closure(self) -> None:
        result = substitute("{repository.full_name}", page_objects(), closure({Scope.PULLREQUEST}))
        assert result.url == "acme%2Fwidget"

    def test_pullrequest_needs_more_than_repository(self) -> None:
        result = substitute("{pullrequest.id}", page_objects(), frozenset({Scope.REPOSITORY}))
        assert result.url == ""
        assert result.dropped[0].reason is DropReason.MISSING_SCOPE

    def test_nested_paths_walk_the_rest_json(self) -> None:
        result = substitute(
            "/p?b={pullrequest.destination.branch.name}&o={repository.owner.uuid}",
            page_objects(),
            closure({Scope.PULLREQUEST}),
        )
        assert result.url == "/p?b=main&o=%7B0a0b0c0d-0000-4000-8000-000000000002%7D"

    @pytest.mark.parametrize(
        ("value", "encoded"),
        [
            ("{1234-5}", "%7B1234-5%7D"),
            ("a/b", "a%2Fb"),
            ("a b&c=d", "a%20b%26c%3Dd"),
            ("100%", "100%25"),
            ("é", "%C3%A9"),
            ("-._~", "-._~"),
            ("#?+", "%23%3F%2B"),
        ],
    )
    def test_values_are_rfc6570_simple_expansion_encoded(self, value: str, encoded: str) -> None:
        result = substitute("{app.key}", {"app": {"key": value}}, frozenset())
        assert result.url == encoded

    def test_scalars_lists_and_objects_expand_like_rfc6570(self) -> None:
        assert expand_value(True) == "true"
        assert expand_value(7) == "7"
        assert expand_value(None) == ""
        assert expand_value(["a/b", 2]) == "a%2Fb,2"
        assert expand_value({"k": "v w"}) == "k,v%20w"
        assert expand_value([{"nested": 1}]) is None

    def test_missing_field_is_dropped_and_reported(self) -> None:
        result = substitute("/p?x={repository.nope}&y=1", page_objects(), ALL_SCOPES)
        assert result.url == "/p?x=&y=1"
        assert result.dropped[0].name == "repository.nope"
        assert result.dropped[0].reason is DropReason.MISSING_FIELD
        assert "{repository.nope} was left empty" in result.dropped[0].message()

    def test_object_not_on_the_page_is_dropped(self) -> None:
        result = substitute("{commit.hash}", page_objects(), ALL_SCOPES)
        assert result.url == ""
        assert result.dropped[0].reason is DropReason.NOT_ON_PAGE

    def test_unknown_root_is_dropped(self) -> None:
        result = substitute("{secret.value}", {"secret": {"value": "x"}}, ALL_SCOPES)
        assert result.url == ""
        assert result.dropped[0].reason is DropReason.UNKNOWN_ROOT

    def test_non_scalar_value_is_dropped(self) -> None:
        result = substitute("{repository.owner}", page_objects(), ALL_SCOPES)
        assert result.url == "type,team,uuid,%7B0a0b0c0d-0000-4000-8000-000000000002%7D"
        deep = substitute("{pullrequest.destination}", page_objects(), ALL_SCOPES)
        assert deep.url == ""
        assert deep.dropped[0].reason is DropReason.NOT_A_VALUE

    def test_list_index_segments_are_allowed(self) -> None:
        objects = {"pullrequest": {"reviewers": [{"uuid": "{r1}"}]}}
        assert substitute("{pullrequest.reviewers.0.uuid}", objects, ALL_SCOPES).url == "%7Br1%7D"

    def test_text_outside_braces_is_untouched(self) -> None:
        result = substitute("/a b/{app.key}?q=%20", {"app": {"key": "k"}}, frozenset())
        assert result.url == "/a b/k?q=%20"


class TestLegacyNames:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("repo_path", "acme%2Fwidget"),
            ("repo_uuid", "%7Brepo%7D"),
            ("repo_name", "widget"),
            ("file_cset", "c0ffee"),
            ("file_path", "src%2Fa.py"),
            ("file_name", "a.py"),
            ("branch_name", "main"),
            ("branch_resolved_hash", "f00"),
            ("commit_hash", "abc"),
            ("pullrequest_id", "7"),
        ],
    )
    def test_legacy_flat_name_maps_to_its_dotted_path(self, name: str, expected: str) -> None:
        objects = {
            "repository": {"full_name": "acme/widget", "uuid": "{repo}", "name": "widget"},
            "file": {"path": "src/a.py", "name": "a.py", "commit": {"hash": "c0ffee"}},
            "branch": {"name": "main", "target": {"hash": "f00"}},
            "commit": {"hash": "abc"},
            "pullrequest": {"id": 7},
        }
        assert name in LEGACY_NAMES
        assert substitute("{" + name + "}", objects, ALL_SCOPES).url == expected

    def test_legacy_names_obey_scope_gating(self) -> None:
        result = substitute("{repo_path}", page_objects(), frozenset({Scope.ACCOUNT}))
        assert result.url == ""
        assert result.dropped[0].name == "repo_path"

    def test_parameters_lists_template_names(self) -> None:
        assert parameters("/a?x={repo_path}&y={repository.uuid}") == (
            "repo_path",
            "repository.uuid",
        )
