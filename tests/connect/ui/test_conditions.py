"""Conditions (connect-spec.md §2.3): every supported name, compositions, invert, scopes, and
unknown or malformed conditions hiding the module."""

from __future__ import annotations

from typing import Any

import pytest

from appdock.connect.ui.conditions import (
    CONDITIONS,
    EvaluationContext,
    Permission,
    describe,
    evaluate_module,
)
from appdock.core.scopes import ALL_SCOPES, Scope
from tests.factories.connect_ui import evaluation, page_objects


def shown(
    condition: Any, ctx: EvaluationContext | None = None, scopes: frozenset[Scope] = ALL_SCOPES
) -> bool:
    result, _ = evaluate_module(
        "m", [condition], ctx or evaluation(objects=page_objects()), app_key="app", scopes=scopes
    )
    return result


def simple(name: str, **params: Any) -> dict[str, Any]:
    return {"condition": name, "params": params}


class TestSimpleConditions:
    @pytest.mark.parametrize(
        ("level", "wanted", "expected"),
        [
            (Permission.READ, "read", True),
            (Permission.READ, "write", False),
            (Permission.WRITE, "write", True),
            (Permission.WRITE, "admin", False),
            (Permission.ADMIN, "admin", True),
            (Permission.NONE, "read", False),
        ],
    )
    def test_has_permission_compares_the_repository_level(
        self, level: Permission, wanted: str, expected: bool
    ) -> None:
        ctx = evaluation(repo_permission=level)
        assert shown(simple("has_permission", permission=wanted), ctx) is expected

    def test_has_permission_without_repository_is_false(self) -> None:
        ctx = evaluation(repo_permission=None)
        assert not shown(simple("has_permission", permission="read"), ctx)

    def test_has_permission_with_unknown_level_is_false(self) -> None:
        assert not shown(simple("has_permission", permission="root"))

    @pytest.mark.parametrize("name", ["has_account_permission", "has_workspace_permission"])
    def test_workspace_permission_conditions(self, name: str) -> None:
        ctx = evaluation(workspace_permission=Permission.ADMIN)
        assert shown(simple(name, permission="admin"), ctx)
        ctx = evaluation(workspace_permission=Permission.READ)
        assert not shown(simple(name, permission="admin"), ctx)
        assert shown(simple(name, permission="member"), ctx)

    def test_user_is_logged_in(self) -> None:
        assert shown(simple("user_is_logged_in"), evaluation(logged_in=True))
        assert not shown(simple("user_is_logged_in"), evaluation(logged_in=False))

    def test_is_repo_private(self) -> None:
        assert shown(simple("is_repo_private"), evaluation(repo_private=True))
        assert not shown(simple("is_repo_private"), evaluation(repo_private=False))
        assert not shown(simple("is_repo_private"), evaluation(repo_private=None))

    def test_scm_matches_the_repository_kind(self) -> None:
        assert shown(simple("scm", scm="git"), evaluation(scm="git"))
        assert shown(simple("scm", value="GIT"), evaluation(scm="git"))
        assert not shown(simple("scm", scm="hg"), evaluation(scm="git"))
        assert not shown(simple("scm"), evaluation(scm="git"))

    def test_user_has_premium(self) -> None:
        assert not shown(simple("user_has_premium"), evaluation())
        assert shown(simple("user_has_premium"), evaluation(user_has_premium=True))

    def test_meets_access_requirements_holds_without_requirements(self) -> None:
        assert shown(simple("meets_access_requirements"))

    def test_has_issue_permission_is_false_without_an_issue_tracker(self) -> None:
        assert not shown(simple("has_issue_permission", permission="read"))

    def test_has_addon_checks_installed_apps(self) -> None:
        ctx = evaluation(installed_apps=frozenset({"com.other"}))
        assert shown(simple("has_addon", addon_key="com.other"), ctx)
        assert not shown(simple("has_addon", addon_key="com.absent"), ctx)
        assert not shown(simple("has_addon"), ctx)

    @pytest.mark.parametrize(
        ("name", "param"), [("flag_is_active", "flag"), ("has_feature", "feature")]
    )
    def test_feature_flags(self, name: str, param: str) -> None:
        ctx = evaluation(features=frozenset({"beta"}))
        assert shown(simple(name, **{param: "beta"}), ctx)
        assert not shown(simple(name, **{param: "gamma"}), ctx)

    def test_is_binary(self) -> None:
        assert shown(simple("is_binary"), evaluation(file_is_binary=True))
        assert not shown(simple("is_binary"), evaluation(file_is_binary=False))
        assert not shown(simple("is_binary"), evaluation())

    def test_has_file_asks_the_repository(self) -> None:
        asked: list[str] = []

        def exists(path: str) -> bool:
            asked.append(path)
            return path == "pom.xml"

        ctx = evaluation(file_exists=exists)
        assert shown(simple("has_file", path="pom.xml"), ctx)
        assert not shown(simple("has_file", path="build.gradle"), ctx)
        assert asked == ["pom.xml", "build.gradle"]
        assert not shown(simple("has_file"), ctx)

    def test_property_exists_asks_for_this_app_and_target(self) -> None:
        calls: list[tuple[str, str, str]] = []

        def lookup(app_key: str, root: str, key: str) -> bool:
            calls.append((app_key, root, key))
            return key == "enabled"

        ctx = evaluation(property_exists=lookup, objects=page_objects())
        assert shown(
            {
                "condition": "property_exists",
                "target": "repository",
                "params": {"propertyKey": "enabled"},
            },
            ctx,
        )
        assert not shown(simple("property_exists", propertyKey="other"), ctx)
        assert calls == [("app", "repository", "enabled"), ("app", "repository", "other")]

    def test_equals_compares_the_target_value(self) -> None:
        ctx = evaluation(objects=page_objects())
        yes = {
            "condition": "equals",
            "target": "repository.full_name",
            "params": {"value": "acme/widget"},
        }
        no = {"condition": "equals", "target": "repository.full_name", "params": {"value": "x/y"}}
        num = {"condition": "equals", "target": "pullrequest.id", "params": {"value": "7"}}
        flag = {
            "condition": "equals",
            "target": "repository.is_private",
            "params": {"value": "true"},
        }
        assert shown(yes, ctx) and not shown(no, ctx) and shown(num, ctx) and shown(flag, ctx)

    def test_equals_needs_a_resolvable_target(self) -> None:
        ctx = evaluation(objects=page_objects())
        assert not shown(simple("equals", value="x"), ctx)
        assert not shown(
            {"condition": "equals", "target": "repository.nope", "params": {"value": 1}}, ctx
        )
        assert not shown({"condition": "equals", "target": "repository.uuid"}, ctx)

    def test_equals_target_obeys_the_scope_rules(self) -> None:
        ctx = evaluation(objects=page_objects())
        condition = {"condition": "equals", "target": "pullrequest.id", "params": {"value": 7}}
        assert shown(condition, ctx, scopes=frozenset({Scope.PULLREQUEST}))
        assert not shown(condition, ctx, scopes=frozenset({Scope.REPOSITORY}))

    def test_contains_searches_strings_lists_and_objects(self) -> None:
        objects = {
            "repository": {
                "full_name": "acme/widget",
                "tags": ["a", "b"],
                "owner": {"type": "team"},
            }
        }
        ctx = evaluation(objects=objects)
        assert shown(
            {
                "condition": "contains",
                "target": "repository.full_name",
                "params": {"value": "widg"},
            },
            ctx,
        )
        assert shown(
            {"condition": "contains", "target": "repository.tags", "params": {"value": "b"}}, ctx
        )
        assert shown(
            {"condition": "contains", "target": "repository.owner", "params": {"value": "team"}},
            ctx,
        )
        assert not shown(
            {"condition": "contains", "target": "repository.tags", "params": {"value": "z"}}, ctx
        )

    def test_every_supported_name_is_tested_here(self) -> None:
        assert set(CONDITIONS) == {
            "has_permission",
            "has_issue_permission",
            "property_exists",
            "has_file",
            "scm",
            "has_account_permission",
            "has_workspace_permission",
            "meets_access_requirements",
            "user_has_premium",
            "has_addon",
            "flag_is_active",
            "has_feature",
            "is_repo_private",
            "user_is_logged_in",
            "equals",
            "contains",
            "is_binary",
        }


class TestScopeRequirements:
    @pytest.mark.parametrize(
        ("name", "scope"),
        [(n, k.scope) for n, k in sorted(CONDITIONS.items()) if k.scope is not None],
    )
    def test_condition_needing_a_missing_scope_is_false(self, name: str, scope: Scope) -> None:
        ctx = evaluation(
            workspace_permission=Permission.ADMIN,
            repo_permission=Permission.ADMIN,
            installed_apps=frozenset({"x"}),
            features=frozenset({"x"}),
            user_has_premium=True,
            file_exists=lambda p: True,
            property_exists=lambda a, r, k: True,
            objects=page_objects(),
        )
        params = {
            "permission": "read",
            "scm": "git",
            "addon_key": "x",
            "flag": "x",
            "feature": "x",
            "path": "p",
            "propertyKey": "k",
        }
        without = frozenset(s for s in ALL_SCOPES if s is not scope)
        ok, log = evaluate_module(
            "m", [{"condition": name, "params": params}], ctx, app_key="a", scopes=without
        )
        assert not ok
        assert scope.value in log[-1].reason


class TestCompositions:
    T = simple("user_is_logged_in")
    F = simple("is_binary")

    @pytest.mark.parametrize("kind", ["and", "AND"])
    def test_and(self, kind: str) -> None:
        assert shown({"type": kind, "conditions": [self.T, self.T]})
        assert not shown({"type": kind, "conditions": [self.T, self.F]})

    @pytest.mark.parametrize("kind", ["or", "OR"])
    def test_or(self, kind: str) -> None:
        assert shown({"type": kind, "conditions": [self.F, self.T]})
        assert not shown({"type": kind, "conditions": [self.F, self.F]})

    def test_nesting(self) -> None:
        nested = {
            "type": "or",
            "conditions": [self.F, {"type": "and", "conditions": [self.T, self.T]}],
        }
        assert shown(nested)
        assert not shown(
            {"type": "and", "conditions": [self.T, {"type": "or", "conditions": [self.F]}]}
        )

    def test_invert_on_simple_and_composition(self) -> None:
        assert shown({**self.F, "invert": True})
        assert not shown({**self.T, "invert": "true"})
        assert shown({"type": "and", "conditions": [self.F], "invert": True})

    def test_module_list_is_and_ed(self) -> None:
        ctx = evaluation()
        ok, _ = evaluate_module("m", [self.T, self.F], ctx, app_key="a", scopes=ALL_SCOPES)
        assert not ok
        ok, _ = evaluate_module("m", [self.T, self.T], ctx, app_key="a", scopes=ALL_SCOPES)
        assert ok

    def test_no_conditions_means_shown(self) -> None:
        ok, log = evaluate_module("m", [], evaluation(), app_key="a", scopes=ALL_SCOPES)
        assert ok and log[0].reason == "no conditions"


class TestUnknownAndMalformed:
    @pytest.mark.parametrize(
        "condition",
        [
            {"condition": "is_admin_mode"},
            {"condition": 5},
            {"type": "xor", "conditions": []},
            {"type": "and", "conditions": "nope"},
            {"params": {}},
            "has_permission",
            {"condition": "has_permission", "params": ["admin"]},
        ],
    )
    def test_hides_the_module(self, condition: Any) -> None:
        assert not shown(condition)

    def test_unknown_inverted_is_still_hidden(self) -> None:
        assert not shown({"condition": "nonexistent", "invert": True})

    def test_failing_lookup_hides_without_raising(self) -> None:
        def broken(path: str) -> bool:
            raise OSError("disk")

        ok, log = evaluate_module(
            "m",
            [simple("has_file", path="x")],
            evaluation(file_exists=broken),
            app_key="a",
            scopes=ALL_SCOPES,
        )
        assert not ok and "OSError" in log[-1].reason


class TestDecisions:
    def test_each_evaluated_condition_is_recorded(self) -> None:
        conditions = [
            {"type": "or", "conditions": [simple("is_binary"), simple("user_is_logged_in")]},
            {"condition": "has_permission", "params": {"permission": "admin"}, "invert": True},
        ]
        ok, log = evaluate_module(
            "panel", conditions, evaluation(), app_key="app", scopes=ALL_SCOPES
        )
        assert ok
        assert [(d.condition, d.result) for d in log] == [
            ("is_binary()", False),
            ("user_is_logged_in()", True),
            ("or(is_binary(), user_is_logged_in())", True),
            ("not has_permission(permission=admin)", True),
        ]
        assert all(d.module_key == "panel" and d.app_key == "app" for d in log)
        assert log[-1].reason.endswith("(inverted)")

    def test_describe_shows_targets(self) -> None:
        text = describe(
            {"condition": "equals", "target": "repository.uuid", "params": {"value": "x"}}
        )
        assert text == "equals(target=repository.uuid, value=x)"
