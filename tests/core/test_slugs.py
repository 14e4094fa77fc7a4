from __future__ import annotations

import pytest

from appdock.core.errors import BadRequest
from appdock.core.slugs import check_account_slug, check_project_key, check_repo_slug


@pytest.mark.parametrize("value", ["acme", "a", "team-1", "x_y"])
def test_valid_account_slugs(value: str) -> None:
    assert check_account_slug(value, "slug") == value


@pytest.mark.parametrize("value", ["", "Acme", "-acme", "a b", "a/b", "login", "api", "x" * 63])
def test_invalid_account_slugs_name_the_field(value: str) -> None:
    with pytest.raises(BadRequest) as err:
        check_account_slug(value, "slug")
    assert err.value.field == "slug"


@pytest.mark.parametrize("value", ["Bad Slug!", "x.git", ".hidden", ""])
def test_invalid_repo_slugs(value: str) -> None:
    with pytest.raises(BadRequest):
        check_repo_slug(value)


def test_project_keys() -> None:
    assert check_project_key("TOOLS_2") == "TOOLS_2"
    with pytest.raises(BadRequest):
        check_project_key("tools")
