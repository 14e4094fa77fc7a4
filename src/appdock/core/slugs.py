"""Names that appear in URLs: usernames, workspace slugs, repository slugs, project keys."""

from __future__ import annotations

import re

from appdock.core.errors import BadRequest

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,61}$")
_REPO_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,61}$")
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")

# First path segments the host itself uses; no account may take them.
RESERVED = frozenset(
    {
        "account",
        "accounts",
        "api",
        "atlassian-connect",
        "dashboard",
        "explore",
        "healthz",
        "login",
        "logout",
        "new",
        "repo",
        "repositories",
        "settings",
        "site",
        "static",
        "support",
        "team",
        "teams",
        "user",
        "users",
        "workspace",
        "workspaces",
        "_",
        "-",
    }
)


def check_account_slug(value: str, field: str) -> str:
    if not _SLUG.match(value or ""):
        raise BadRequest(
            f"{field}: {value!r} is not valid; use 1-62 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit",
            field=field,
        )
    if value in RESERVED:
        raise BadRequest(f"{field}: {value!r} is reserved", field=field)
    return value


def check_repo_slug(value: str, field: str = "slug") -> str:
    if not _REPO_SLUG.match(value or "") or value.endswith(".git"):
        raise BadRequest(
            f"{field}: {value!r} is not a valid repository slug; use 1-62 lowercase letters, "
            "digits, '-', '_' or '.', starting with a letter or digit",
            field=field,
        )
    return value


def check_project_key(value: str, field: str = "key") -> str:
    if not _PROJECT_KEY.match(value or ""):
        raise BadRequest(
            f"{field}: {value!r} is not a valid project key; use uppercase letters, digits and "
            "'_', starting with a letter",
            field=field,
        )
    return value
