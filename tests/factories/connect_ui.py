"""Typed factories for the UI module resolver's plain inputs (no database involved)."""

from __future__ import annotations

from typing import Any

from appdock.connect.ui.conditions import EvaluationContext, Permission
from appdock.connect.ui.resolver import InstalledModule, PageContext
from appdock.core.scopes import Scope, closure

HOST = "https://git.example.com"
APP_BASE = "https://app.example.com/bb"
SECRET = "shared-secret-for-tests-0123456789abcdef"
VIEWER = "{4a1f3c2e-0000-4000-8000-00000000a11c}"
PANELS = "org.bitbucket.repository.overview.informationPanel"


def installed_module(**overrides: Any) -> InstalledModule:
    values: dict[str, Any] = {
        "app_key": "com.example.app",
        "app_name": "Example app",
        "client_key": "client-key-1",
        "shared_secret": SECRET,
        "base_url": APP_BASE,
        "scopes": closure({Scope.PULLREQUEST, Scope.ACCOUNT}),
        "module_type": "webPanels",
        "module_key": "panel",
        "url": "/panel?repo={repository.full_name}",
        "location": PANELS,
        "name": "Panel",
    }
    values.update(overrides)
    return InstalledModule(**values)


def repository_json(**overrides: Any) -> dict[str, Any]:
    repo: dict[str, Any] = {
        "type": "repository",
        "uuid": "{5f8a2b1c-0000-4000-8000-000000000001}",
        "full_name": "acme/widget",
        "name": "widget",
        "is_private": True,
        "scm": "git",
        "owner": {"type": "team", "uuid": "{0a0b0c0d-0000-4000-8000-000000000002}"},
    }
    repo.update(overrides)
    return repo


def page_objects() -> dict[str, dict[str, Any]]:
    return {
        "repository": repository_json(),
        "pullrequest": {
            "id": 7,
            "state": "OPEN",
            "destination": {"branch": {"name": "main"}},
            "source": {"commit": {"hash": "abc123"}},
        },
        "user": {"uuid": VIEWER, "account_id": "5b10a2844c20165700ede21g"},
        "workspace": {"slug": "acme", "uuid": "{0a0b0c0d-0000-4000-8000-000000000002}"},
    }


def page_context(**overrides: Any) -> PageContext:
    values: dict[str, Any] = {
        "host_base_url": HOST,
        "viewer_uuid": VIEWER,
        "objects": page_objects(),
    }
    values.update(overrides)
    return PageContext(**values)


def evaluation(**overrides: Any) -> EvaluationContext:
    values: dict[str, Any] = {
        "logged_in": True,
        "repo_permission": Permission.WRITE,
        "workspace_permission": Permission.READ,
        "repo_private": True,
        "scm": "git",
    }
    values.update(overrides)
    return EvaluationContext(**values)
