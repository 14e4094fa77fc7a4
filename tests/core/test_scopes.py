from __future__ import annotations

import pytest

from appdock.core.scopes import DESCRIPTIONS, Scope, UnknownScope, closure, parse_scopes


class TestClosure:
    @pytest.mark.parametrize(
        ("granted", "expected"),
        [
            (
                {Scope.PULLREQUEST_WRITE},
                {"pullrequest:write", "pullrequest", "repository:write", "repository"},
            ),
            ({Scope.PROJECT_ADMIN}, {"project:admin", "project", "repository"}),
            ({Scope.REPOSITORY_ADMIN}, {"repository:admin"}),
            ({Scope.ACCOUNT_WRITE}, {"account:write", "account"}),
            ({Scope.ISSUE_WRITE}, {"issue:write", "issue"}),
        ],
    )
    def test_implications(self, granted: set[Scope], expected: set[str]) -> None:
        assert {s.value for s in closure(granted)} == expected

    def test_admin_does_not_imply_read(self) -> None:
        assert Scope.REPOSITORY not in closure({Scope.REPOSITORY_ADMIN})


class TestParse:
    def test_space_and_comma_separated(self) -> None:
        assert parse_scopes("account, repository  team") == {
            Scope.ACCOUNT,
            Scope.REPOSITORY,
            Scope.TEAM,
        }

    def test_unknown_scope_names_it(self) -> None:
        with pytest.raises(UnknownScope, match='unknown scope "repository:everything"'):
            parse_scopes(["account", "repository:everything"])

    def test_granular_atlassian_scopes_are_not_connect_scopes(self) -> None:
        with pytest.raises(UnknownScope):
            parse_scopes(["read:repository:bitbucket"])

    def test_every_scope_is_described(self) -> None:
        assert set(DESCRIPTIONS) == set(Scope)
