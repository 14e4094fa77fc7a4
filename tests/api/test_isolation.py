"""Tenant isolation, table-driven over EVERY route of the REST API.

The routes are enumerated from the API application at test time; a route without a row in
:data:`ROWS` fails :func:`test_every_route_has_a_row`, so a new route cannot slip through. Each row
is called by eight callers:

- an installation on the owning workspace (``acme``), with too few scopes and with enough;
- the same on another team (``other``) and on a user account (``bob``, no member of ``acme``);
- an uninstalled app's JWT (always 401), and anonymous.

Expected: the owner with enough scopes succeeds (and no other caller's successful answer
mentions the owner's workspace); too few scopes is a 403 naming the row's scope
(the scope is checked before any lookup, so it leaks nothing); a resource the caller cannot see is
a 404; the uninstalled app is a 401; anonymous is a 404 on hidden resources and a 401 on routes
that need a credential. The world is built once per module (and backend); destructive rows run
last, on resources of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from appdock.app import create_app
from appdock.config import Settings
from appdock.connect.service import ConnectService
from appdock.core.db import make_session_factory
from appdock.core.scopes import Scope
from appdock.core.urls import Urls
from appdock.models import Installation, Workspace
from tests.conftest import BASE_URL, _empty_tables
from tests.factories.account import SECRET, basic, make_app_password, make_team, make_user
from tests.factories.connect import app_jwt, descriptor, make_installation
from tests.factories.pullrequest import make_branch, make_repo

ALL = " ".join(s.value for s in Scope)
FEW = "email"  # a scope no route asks for
LINKERS = {"linkers": [{"key": "ticket", "regex": "T-(?K)", "url": "/t/\\1"}]}
FULL_KEY = "com.example.full"

CALLERS = (
    "anonymous",
    "uninstalled",
    "owner_few",
    "other_few",
    "user_few",
    "other_full",
    "user_full",
    "owner_full",
)

# what a row's resource is, which decides who sees it
#   repo       inside the private repository acme/widget: only acme sees it
#   workspace  a team-level resource of acme: only acme sees it
#   public     visible to every caller (a user, the hook event catalogue)
#   caller     about the caller itself (their user, their workspaces, listings filtered to them)
#   app        the calling app's own data (/2.0/addon...): every installation has its own
#   app_item   one item of the owner app's own data: other installations get a 404
#   dev_api    the development registration API: users' app passwords only, never apps


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    scope: Scope | None
    kind: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    ok: int = 200
    order: int = 0  # 1: destroys a resource of its own; 2: destroys shared ones; 3: uninstalls
    anonymous: int | None = None  # when anonymous may not be refused the usual way
    team: int | None = None  # what a team installation with enough scopes gets instead of ok
    note: str = ""


R, W = "/2.0/repositories/{workspace}/{repo_slug}", "/2.0/workspaces/{workspace}"
PR = R + "/pullrequests/{pull_request_id}"
ISSUE = R + "/issues/{issue_id}"
HOOK_BODY = {"url": "https://hooks.example.com/h", "events": ["repo:push"]}
PROP = "/properties/{app_key}/{property_name}"

ROWS: list[Row] = [
    # account --------------------------------------------------------------------------------
    Row("GET", "/2.0/user", Scope.ACCOUNT, "caller"),
    Row("GET", "/2.0/user/workspaces", Scope.ACCOUNT, "caller"),
    # a team installation has no user, so no user memberships
    Row("GET", "/2.0/user/permissions/workspaces", Scope.ACCOUNT, "caller", team=404),
    Row("GET", "/2.0/users/{selected_user}", None, "public"),
    Row("GET", "/2.0/workspaces", Scope.ACCOUNT, "caller"),
    Row("GET", W, None, "workspace"),
    Row("GET", W + "/members", Scope.ACCOUNT, "workspace"),
    Row("GET", W + "/members/{member}", Scope.ACCOUNT, "workspace"),
    Row("GET", W + "/projects", Scope.PROJECT, "workspace"),
    Row(
        "POST",
        W + "/projects",
        Scope.PROJECT_ADMIN,
        "workspace",
        body={"key": "NEW", "name": "New"},
        ok=201,
    ),
    Row("GET", W + "/projects/{project_key}", Scope.PROJECT, "workspace"),
    # repositories ---------------------------------------------------------------------------
    Row("GET", "/2.0/repositories", Scope.REPOSITORY, "caller"),
    Row("GET", "/2.0/repositories/{workspace}", Scope.REPOSITORY, "workspace"),
    Row("GET", R, Scope.REPOSITORY, "repo"),
    Row(
        "POST",
        R,
        Scope.REPOSITORY_ADMIN,
        "workspace",
        params={"repo_slug": "fresh"},
        body={"scm": "git", "is_private": True},
        ok=201,
    ),
    Row("PUT", R, Scope.REPOSITORY_ADMIN, "repo", body={"description": "changed"}),
    Row(
        "DELETE",
        R,
        Scope.REPOSITORY_DELETE,
        "repo",
        params={"repo_slug": "doomed"},
        ok=204,
        order=1,
    ),
    Row("GET", R + "/forks", Scope.REPOSITORY, "repo"),
    Row(
        "POST",
        R + "/forks",
        Scope.REPOSITORY_WRITE,
        "repo",
        body={"name": "widget-fork", "slug": "widget-fork"},
        ok=201,
    ),
    Row("GET", R + "/refs", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/refs/branches", Scope.REPOSITORY, "repo"),
    Row(
        "POST",
        R + "/refs/branches",
        Scope.REPOSITORY_WRITE,
        "repo",
        body={"name": "new-branch", "target": {"hash": "main"}},
        ok=201,
    ),
    Row("GET", R + "/refs/branches/{name}", Scope.REPOSITORY, "repo"),
    Row(
        "DELETE",
        R + "/refs/branches/{name}",
        Scope.REPOSITORY_WRITE,
        "repo",
        params={"name": "doomed-branch"},
        ok=204,
        order=1,
    ),
    Row("GET", R + "/refs/tags", Scope.REPOSITORY, "repo"),
    Row(
        "POST",
        R + "/refs/tags",
        Scope.REPOSITORY_WRITE,
        "repo",
        body={"name": "v-new", "target": {"hash": "main"}},
        ok=201,
    ),
    Row("GET", R + "/refs/tags/{name}", Scope.REPOSITORY, "repo", params={"name": "v1"}),
    Row(
        "DELETE",
        R + "/refs/tags/{name}",
        Scope.REPOSITORY_WRITE,
        "repo",
        params={"name": "doomed-tag"},
        ok=204,
        order=1,
    ),
    Row("GET", R + "/commits", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/commits/{revision}", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/commit/{commit}", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/commit/{commit}/statuses", Scope.REPOSITORY, "repo"),
    Row(
        "POST",
        R + "/commit/{commit}/statuses/build",
        Scope.REPOSITORY,
        "repo",
        body={"key": "new", "state": "SUCCESSFUL", "url": "https://ci.example.com/1"},
        ok=201,
    ),
    Row("GET", R + "/commit/{commit}/statuses/build/{key}", Scope.REPOSITORY, "repo"),
    Row(
        "PUT",
        R + "/commit/{commit}/statuses/build/{key}",
        Scope.REPOSITORY,
        "repo",
        body={"state": "FAILED"},
    ),
    Row("GET", R + "/src", Scope.REPOSITORY, "repo", ok=302),
    Row("GET", R + "/src/{commit}", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/src/{commit}/{path}", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/diff/{spec}", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/patch/{spec}", Scope.REPOSITORY, "repo"),
    Row("GET", R + "/diffstat/{spec}", Scope.REPOSITORY, "repo"),
    # pull requests --------------------------------------------------------------------------
    Row("GET", R + "/pullrequests", Scope.PULLREQUEST, "repo"),
    Row(
        "POST",
        R + "/pullrequests",
        Scope.PULLREQUEST_WRITE,
        "repo",
        body={"title": "New", "source": {"branch": {"name": "spare"}}},
        ok=201,
    ),
    Row("GET", PR, Scope.PULLREQUEST, "repo"),
    Row("PUT", PR, Scope.PULLREQUEST_WRITE, "repo", body={"title": "Renamed"}),
    Row("GET", PR + "/commits", Scope.PULLREQUEST, "repo"),
    Row("GET", PR + "/diff", Scope.PULLREQUEST, "repo"),
    Row("GET", PR + "/patch", Scope.PULLREQUEST, "repo"),
    Row("GET", PR + "/diffstat", Scope.PULLREQUEST, "repo"),
    Row("GET", PR + "/statuses", Scope.PULLREQUEST, "repo"),
    Row("GET", PR + "/activity", Scope.PULLREQUEST, "repo"),
    # reviews are a user's: a team installation is refused with a 400 saying so
    Row("POST", PR + "/approve", Scope.PULLREQUEST_WRITE, "repo", team=400),
    Row("DELETE", PR + "/approve", Scope.PULLREQUEST_WRITE, "repo", ok=204, team=400),
    Row("POST", PR + "/request-changes", Scope.PULLREQUEST_WRITE, "repo", team=400),
    Row("DELETE", PR + "/request-changes", Scope.PULLREQUEST_WRITE, "repo", ok=204, team=400),
    Row(
        "POST",
        PR + "/merge",
        Scope.PULLREQUEST_WRITE,
        "repo",
        params={"pull_request_id": "2"},
        order=1,
    ),
    Row(
        "POST",
        PR + "/decline",
        Scope.PULLREQUEST_WRITE,
        "repo",
        params={"pull_request_id": "3"},
        order=1,
    ),
    Row("GET", PR + "/comments", Scope.PULLREQUEST, "repo"),
    Row(
        "POST",
        PR + "/comments",
        Scope.PULLREQUEST,
        "repo",
        body={"content": {"raw": "hi"}},
        ok=201,
    ),
    Row("GET", PR + "/comments/{comment_id}", Scope.PULLREQUEST, "repo"),
    Row(
        "PUT",
        PR + "/comments/{comment_id}",
        Scope.PULLREQUEST,
        "repo",
        body={"content": {"raw": "edited"}},
    ),
    Row(
        "DELETE",
        PR + "/comments/{comment_id}",
        Scope.PULLREQUEST,
        "repo",
        params={"comment_id": "doomed_pr_comment"},
        ok=204,
        order=1,
    ),
    Row("GET", PR + "/tasks", Scope.PULLREQUEST, "repo"),
    Row(
        "POST",
        PR + "/tasks",
        Scope.PULLREQUEST,
        "repo",
        body={"content": {"raw": "do it"}},
        ok=201,
    ),
    Row("GET", PR + "/tasks/{task_id}", Scope.PULLREQUEST, "repo"),
    Row("PUT", PR + "/tasks/{task_id}", Scope.PULLREQUEST, "repo", body={"state": "RESOLVED"}),
    Row(
        "DELETE",
        PR + "/tasks/{task_id}",
        Scope.PULLREQUEST,
        "repo",
        params={"task_id": "doomed_task"},
        ok=204,
        order=1,
    ),
    # issues ---------------------------------------------------------------------------------
    Row("GET", R + "/issues", Scope.ISSUE, "repo"),
    # the issue tracker is changed by users only: a team installation gets a 403 saying so
    Row("POST", R + "/issues", Scope.ISSUE_WRITE, "repo", body={"title": "Bug"}, ok=201, team=403),
    Row("GET", ISSUE, Scope.ISSUE, "repo"),
    Row("PUT", ISSUE, Scope.ISSUE_WRITE, "repo", body={"title": "Renamed bug"}, team=403),
    Row(
        "DELETE",
        ISSUE,
        Scope.ISSUE_WRITE,
        "repo",
        params={"issue_id": "2"},
        ok=204,
        order=1,
    ),
    Row("GET", ISSUE + "/changes", Scope.ISSUE, "repo"),
    Row(
        "POST",
        ISSUE + "/changes",
        Scope.ISSUE_WRITE,
        "repo",
        body={"changes": {"state": {"new": "resolved"}}},
        ok=201,
        team=403,
    ),
    Row("GET", ISSUE + "/changes/{change_id}", Scope.ISSUE, "repo"),
    Row("GET", ISSUE + "/comments", Scope.ISSUE, "repo"),
    Row(
        "POST",
        ISSUE + "/comments",
        Scope.ISSUE_WRITE,
        "repo",
        body={"content": {"raw": "me too"}},
        ok=201,
        team=403,
    ),
    Row(
        "GET",
        ISSUE + "/comments/{comment_id}",
        Scope.ISSUE,
        "repo",
        params={"comment_id": "issue_comment"},
    ),
    Row(
        "PUT",
        ISSUE + "/comments/{comment_id}",
        Scope.ISSUE_WRITE,
        "repo",
        params={"comment_id": "issue_comment"},
        body={"content": {"raw": "edited"}},
        team=403,
    ),
    Row(
        "DELETE",
        ISSUE + "/comments/{comment_id}",
        Scope.ISSUE_WRITE,
        "repo",
        params={"comment_id": "doomed_issue_comment"},
        ok=204,
        order=1,
        team=403,
    ),
    # webhooks -------------------------------------------------------------------------------
    Row("GET", "/2.0/hook_events", None, "public"),
    Row("GET", "/2.0/hook_events/{subject_type}", None, "public"),
    Row("GET", R + "/hooks", Scope.WEBHOOK, "repo"),
    Row("POST", R + "/hooks", Scope.WEBHOOK, "repo", body=HOOK_BODY, ok=201),
    Row("GET", R + "/hooks/{uid}", Scope.WEBHOOK, "repo"),
    Row("PUT", R + "/hooks/{uid}", Scope.WEBHOOK, "repo", body={"description": "renamed"}),
    Row(
        "DELETE",
        R + "/hooks/{uid}",
        Scope.WEBHOOK,
        "repo",
        params={"uid": "doomed_hook"},
        ok=204,
        order=1,
    ),
    Row("GET", R + "/hooks/{uid}/deliveries", Scope.WEBHOOK, "repo"),
    Row("GET", R + "/hooks/{uid}/deliveries/{delivery}", Scope.WEBHOOK, "repo"),
    # without a worker the delivery is still queued: the owner reaches it and is told so (400)
    Row("POST", R + "/hooks/{uid}/deliveries/{delivery}/redeliver", Scope.WEBHOOK, "repo", ok=400),
    Row(
        "POST",
        R + "/hooks/{uid}/redeliver",
        Scope.WEBHOOK,
        "repo",
        body={"since": "2000-01-01T00:00:00Z"},
    ),
    Row("POST", R + "/hooks/{uid}/test", Scope.WEBHOOK, "repo", ok=202),
    Row("GET", W + "/hooks", Scope.WEBHOOK, "workspace"),
    Row("POST", W + "/hooks", Scope.WEBHOOK, "workspace", body=HOOK_BODY, ok=201),
    Row("GET", W + "/hooks/{uid}", Scope.WEBHOOK, "workspace", params={"uid": "ws_hook"}),
    Row(
        "PUT",
        W + "/hooks/{uid}",
        Scope.WEBHOOK,
        "workspace",
        params={"uid": "ws_hook"},
        body={"description": "renamed"},
    ),
    Row(
        "DELETE",
        W + "/hooks/{uid}",
        Scope.WEBHOOK,
        "workspace",
        params={"uid": "doomed_ws_hook"},
        ok=204,
        order=1,
    ),
    Row(
        "GET", W + "/hooks/{uid}/deliveries", Scope.WEBHOOK, "workspace", params={"uid": "ws_hook"}
    ),
    Row(
        "GET",
        W + "/hooks/{uid}/deliveries/{delivery}",
        Scope.WEBHOOK,
        "workspace",
        params={"uid": "ws_hook", "delivery": "ws_delivery"},
    ),
    Row(
        "POST",
        W + "/hooks/{uid}/deliveries/{delivery}/redeliver",
        Scope.WEBHOOK,
        "workspace",
        params={"uid": "ws_hook", "delivery": "ws_delivery"},
        ok=400,
    ),
    Row(
        "POST",
        W + "/hooks/{uid}/redeliver",
        Scope.WEBHOOK,
        "workspace",
        params={"uid": "ws_hook"},
        body={"since": "2000-01-01T00:00:00Z"},
    ),
    Row(
        "POST",
        W + "/hooks/{uid}/test",
        Scope.WEBHOOK,
        "workspace",
        params={"uid": "ws_hook"},
        ok=202,
    ),
    # the app platform -----------------------------------------------------------------------
    Row("GET", "/2.0/account/{account}/addons", Scope.ACCOUNT, "dev_api"),
    Row(
        "POST",
        "/2.0/account/{account}/addons",
        Scope.ACCOUNT_WRITE,
        "dev_api",
        body={"url": "https://app.example.com/atlassian-connect.json"},
    ),
    Row("DELETE", "/2.0/account/{account}/addons/{addon_id}", Scope.ACCOUNT_WRITE, "dev_api"),
    Row("PUT", "/2.0/addon", None, "app", body="descriptor", ok=204),
    Row("DELETE", "/2.0/addon", None, "app", ok=204, order=3),
    Row("GET", "/2.0/addon/linkers", None, "app"),
    Row("GET", "/2.0/addon/linkers/{linker_key}", None, "app"),
    Row("GET", "/2.0/addon/linkers/{linker_key}/values", None, "app"),
    Row(
        "POST", "/2.0/addon/linkers/{linker_key}/values", None, "app", body={"value": "T-9"}, ok=201
    ),
    Row(
        "PUT",
        "/2.0/addon/linkers/{linker_key}/values",
        None,
        "app",
        body=[{"value": "T-1"}],
        ok=204,
        order=2,
    ),
    Row("DELETE", "/2.0/addon/linkers/{linker_key}/values", None, "app", ok=204, order=2),
    Row("GET", "/2.0/addon/linkers/{linker_key}/values/{value_id}", None, "app_item"),
    Row(
        "DELETE",
        "/2.0/addon/linkers/{linker_key}/values/{value_id}",
        None,
        "app_item",
        params={"value_id": "doomed_value"},
        ok=204,
        order=1,
    ),
    # app properties -------------------------------------------------------------------------
    Row("GET", R + PROP, Scope.REPOSITORY, "repo"),
    Row("PUT", R + PROP, Scope.REPOSITORY, "repo", body={"v": 2}, ok=204),
    Row(
        "DELETE",
        R + PROP,
        Scope.REPOSITORY,
        "repo",
        params={"property_name": "doomed"},
        ok=204,
        order=1,
    ),
    Row("GET", R + "/commit/{commit}" + PROP, Scope.REPOSITORY, "repo"),
    Row("PUT", R + "/commit/{commit}" + PROP, Scope.REPOSITORY, "repo", body={"v": 2}, ok=204),
    Row(
        "DELETE",
        R + "/commit/{commit}" + PROP,
        Scope.REPOSITORY,
        "repo",
        params={"property_name": "doomed"},
        ok=204,
        order=1,
    ),
    Row("GET", R + "/pullrequests/{pullrequest_id}" + PROP, Scope.PULLREQUEST, "repo"),
    Row(
        "PUT",
        R + "/pullrequests/{pullrequest_id}" + PROP,
        Scope.PULLREQUEST,
        "repo",
        body={"v": 2},
        ok=204,
    ),
    Row(
        "DELETE",
        R + "/pullrequests/{pullrequest_id}" + PROP,
        Scope.PULLREQUEST,
        "repo",
        params={"property_name": "doomed"},
        ok=204,
        order=1,
    ),
    # a user's properties: the user is public; the app's property is the app's on every install
    Row("GET", "/2.0/users/{selected_user}" + PROP, Scope.ACCOUNT, "app_public"),
    Row(
        "PUT",
        "/2.0/users/{selected_user}" + PROP,
        Scope.ACCOUNT,
        "app_public",
        body={"v": 2},
        ok=204,
    ),
    Row(
        "DELETE",
        "/2.0/users/{selected_user}" + PROP,
        Scope.ACCOUNT,
        "app_public",
        params={"property_name": "doomed"},
        ok=204,
        order=1,
    ),
]


# ---- the world ---------------------------------------------------------------------------------
@dataclass
class World:
    client: TestClient
    params: dict[str, str]
    apps: dict[str, tuple[str, str, str]]  # caller -> (app key, client key, secret)
    descriptors: dict[str, dict[str, Any]]  # caller -> the descriptor it was installed with


def _descriptor(key: str, scopes: str) -> dict[str, Any]:
    return descriptor(key, modules=LINKERS, lifecycle={}, scopes=scopes.split())


def _install(db: Session, ws: Workspace, key: str, scopes: str) -> tuple[str, str, str]:
    inst, secret = make_installation(db, ws, key=key, scopes=scopes, raw=_descriptor(key, scopes))
    return key, inst.client_key, secret


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _empty_tables(database_url)
    data: Path = tmp_path_factory.mktemp("isolation")
    settings = Settings(
        database_url=database_url,
        data_dir=data,
        base_url=BASE_URL,
        secret_key=SECRET,
        allow_private_app_urls="loopback",
        webhook_worker=False,
    )
    app: FastAPI = create_app(settings)
    db = make_session_factory(app.state.engine, deferred=True)()
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            yield _build(db, settings, client)
    finally:
        db.close()
        app.state.engine.dispose()
        _empty_tables(database_url)


def _build(db: Session, settings: Settings, client: TestClient) -> World:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    mallory = make_user(db, "mallory")
    other = make_team(db, "other", mallory)
    bob = make_user(db, "bob")
    bob_ws = db.query(Workspace).filter_by(slug="bob").one()
    repo = make_repo(db, settings, alice, "widget", workspace=acme)
    make_repo(db, settings, alice, "doomed", workspace=acme)
    make_repo(db, settings, mallory, "secret", workspace=other)
    for branch in ("feature", "merge-me", "decline-me", "spare", "doomed-branch"):
        make_branch(settings, repo, branch, {f"{branch}.txt": branch + "\n"})
    auth = basic("alice", make_app_password(db, alice, ALL))

    def call(method: str, path: str, body: Any = None) -> Any:
        r = client.request(method, "/api/2.0" + path, json=body, headers=auth)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    w = "/repositories/acme/widget"
    head = call("GET", w + "/commits/main")["values"][0]["hash"]
    call("POST", "/workspaces/acme/projects", {"key": "PRJ", "name": "Project"})
    for tag in ("v1", "doomed-tag"):
        call("POST", w + "/refs/tags", {"name": tag, "target": {"hash": head}})
    call(
        "POST",
        f"{w}/commit/{head}/statuses/build",
        {"key": "ci", "state": "INPROGRESS", "url": "https://ci.example.com/0"},
    )
    for branch in ("feature", "merge-me", "decline-me"):
        call("POST", w + "/pullrequests", {"title": branch, "source": {"branch": {"name": branch}}})
    call("POST", w + "/issues", {"title": "One"})
    call("POST", w + "/issues", {"title": "Doomed"})
    change = call("POST", w + "/issues/1/changes", {"changes": {"state": {"new": "open"}}})["id"]
    issue_comment = call("POST", w + "/issues/1/comments", {"content": {"raw": "c"}})["id"]
    doomed_issue_comment = call("POST", w + "/issues/1/comments", {"content": {"raw": "d"}})["id"]
    hook = call("POST", w + "/hooks", HOOK_BODY)["uuid"]
    doomed_hook = call("POST", w + "/hooks", HOOK_BODY)["uuid"]
    delivery = call("POST", f"{w}/hooks/{hook}/test")["uuid"]
    ws_hook = call("POST", "/workspaces/acme/hooks", HOOK_BODY)["uuid"]
    doomed_ws_hook = call("POST", "/workspaces/acme/hooks", HOOK_BODY)["uuid"]
    ws_delivery = call("POST", f"/workspaces/acme/hooks/{ws_hook}/test")["uuid"]

    apps = {
        "owner_few": _install(db, acme, "com.example.few", FEW),
        "owner_full": _install(db, acme, FULL_KEY, ALL),
        "other_few": _install(db, other, "com.example.few", FEW),
        "other_full": _install(db, other, FULL_KEY, ALL),
        "user_few": _install(db, bob_ws, "com.example.few", FEW),
        "user_full": _install(db, bob_ws, FULL_KEY, ALL),
        "uninstalled": _install(db, acme, "com.example.gone", ALL),
    }
    gone = db.query(Installation).filter_by(app_key="com.example.gone").one()
    ConnectService(db, SECRET, Urls(BASE_URL)).uninstall(gone)
    db.commit()
    del bob

    descriptors = {
        caller: _descriptor(key, FEW if caller.endswith("_few") else ALL)
        for caller, (key, _ck, _s) in apps.items()
    }
    world = World(client, {}, apps, descriptors)
    owner = "owner_full"

    def as_owner(method: str, path: str, body: Any = None) -> Any:
        r = _request(world, owner, method, "/2.0" + path, body)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    for target in (w, f"{w}/commit/{head}", w + "/pullrequests/1", "/users/alice"):
        for name in ("state", "doomed"):
            as_owner("PUT", f"{target}/properties/{FULL_KEY}/{name}", {"v": 1})
    # comments and tasks the owner app wrote (only an author edits a comment)
    pr_comment = as_owner("POST", w + "/pullrequests/1/comments", {"content": {"raw": "c"}})["id"]
    doomed_pr_comment = as_owner("POST", w + "/pullrequests/1/comments", {"content": {"raw": "d"}})[
        "id"
    ]
    task = as_owner("POST", w + "/pullrequests/1/tasks", {"content": {"raw": "t"}})["id"]
    doomed_task = as_owner("POST", w + "/pullrequests/1/tasks", {"content": {"raw": "d"}})["id"]
    value = as_owner("POST", "/addon/linkers/ticket/values", {"value": "T-1"})["id"]
    doomed_value = as_owner("POST", "/addon/linkers/ticket/values", {"value": "T-2"})["id"]

    world.params = {
        "workspace": "acme",
        "repo_slug": "widget",
        "selected_user": "alice",
        "member": "alice",
        "project_key": "PRJ",
        "name": "feature",
        "revision": "main",
        "commit": head,
        "key": "ci",
        "path": "README.md",
        "spec": "main..feature",
        "pull_request_id": "1",
        "pullrequest_id": "1",
        "comment_id": str(pr_comment),
        "doomed_pr_comment": str(doomed_pr_comment),
        "task_id": str(task),
        "doomed_task": str(doomed_task),
        "issue_id": "1",
        "change_id": str(change),
        "issue_comment": str(issue_comment),
        "doomed_issue_comment": str(doomed_issue_comment),
        "subject_type": "repository",
        "uid": hook,
        "doomed_hook": doomed_hook,
        "delivery": delivery,
        "ws_hook": ws_hook,
        "doomed_ws_hook": doomed_ws_hook,
        "ws_delivery": ws_delivery,
        "account": "acme",
        "addon_id": FULL_KEY,
        "app_key": FULL_KEY,
        "property_name": "state",
        "linker_key": "ticket",
        "value_id": str(value),
        "doomed_value": str(doomed_value),
    }
    return world


def _request(world: World, caller: str, method: str, path: str, body: Any) -> Any:
    headers: dict[str, str] = {}
    path = quote(path, safe="/:@!$&'()*+,;=-._~")  # as it goes over the wire (braces encoded)
    if caller != "anonymous":
        key, client_key, secret = world.apps[caller]
        token = app_jwt(app_key=key, client_key=client_key, secret=secret, method=method, path=path)
        headers["Authorization"] = f"JWT {token}"
    if body == "descriptor":
        body = {"descriptor": world.descriptors.get(caller, {})}
    return world.client.request(
        method, "/api" + path, json=body, headers=headers, follow_redirects=False
    )


def _concrete(row: Row, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        raw = row.params.get(name, world.params[name])
        return world.params.get(raw, raw)

    return re.sub(r"\{(\w+)\}", value, row.path)


# ---- expectations ------------------------------------------------------------------------------
def expected(row: Row, caller: str, requires_auth: bool) -> int | str:
    """The status a caller must get; "ok" means the row's success status."""
    if caller == "uninstalled":
        return 401
    if caller == "anonymous":
        if row.anonymous is not None:
            return row.anonymous
        if row.kind == "public" or (row.kind == "caller" and not requires_auth):
            return "ok"
        if row.kind in ("app", "app_item", "app_public") or requires_auth:
            return 401
        return 404
    few = caller.endswith("_few")
    if few and row.scope is not None:
        return 403
    owner = caller.startswith("owner")
    team = caller in ("owner_full", "other_full", "owner_few", "other_few")
    ok: int | str = row.team if team and row.team is not None else "ok"
    if row.kind == "public":
        return "ok"
    if row.kind in ("repo", "workspace"):
        return ok if owner else 404
    if row.kind == "caller":
        return ok
    if row.kind == "app":
        return "ok"
    if row.kind == "app_item":
        return "ok" if caller == "owner_full" else 404
    if row.kind == "app_public" and row.method == "DELETE":
        # one app, installed three times: the first of its installs to delete it succeeds
        return "ok" if caller == "other_full" else 404
    if row.kind == "app_public":  # same app key on every "full" install; the "few" app has none
        return "ok" if not few else 404
    if row.kind == "dev_api":
        return 403  # apps never manage installations
    raise AssertionError(f"unknown kind {row.kind}")


# ---- the route inventory -----------------------------------------------------------------------
def api_routes() -> list[tuple[str, str, APIRoute]]:
    """Every (method, path) the API application serves, walked from the application's own
    routers (included routers carry their prefix), not from a list kept by hand."""
    settings = Settings(database_url="sqlite://", base_url=BASE_URL, secret_key=SECRET)
    app = create_app(settings)
    try:
        mounted = next(r for r in app.routes if getattr(r, "path", None) == "/api")
        api: FastAPI = mounted.app  # type: ignore[attr-defined]
        out: list[tuple[str, str, APIRoute]] = []
        for prefix, route in _walk(list(api.router.routes), ""):
            for method in sorted(route.methods - {"HEAD"}):
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + route.path)
                out.append((method, path, route))
        return out
    finally:
        app.state.engine.dispose()


def _walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # an included router (FastAPI >= 0.160)
            inner_prefix = prefix + (route.include_context.prefix or "")
            yield from _walk(list(original.routes), inner_prefix)
        elif isinstance(route, APIRoute):
            yield prefix, route


ROUTES = api_routes()


def _requires_auth(route: APIRoute) -> bool:
    pending = [route.dependant]
    while pending:
        dep = pending.pop()
        if getattr(dep.call, "requires_auth", False):
            return True
        pending.extend(dep.dependencies)
    return False


def test_every_route_has_a_row() -> None:
    served = {(m, p) for m, p, _ in ROUTES}
    rows = {(r.method, r.path) for r in ROWS}
    assert not served - rows, f"routes without an isolation row: {sorted(served - rows)}"
    assert not rows - served, f"rows for routes that do not exist: {sorted(rows - served)}"
    assert len(rows) == len(ROWS), "duplicate rows"


@pytest.mark.parametrize(
    "row",
    sorted(ROWS, key=lambda r: r.order),
    ids=lambda r: f"{r.method} {r.path}",
)
def test_isolation(row: Row, world: World) -> None:
    requires_auth = any(
        _requires_auth(route) for m, p, route in ROUTES if (m, p) == (row.method, row.path)
    )
    path = _concrete(row, world)
    failures = []
    for caller in CALLERS:
        r = _request(world, caller, row.method, path, row.body)
        want = expected(row, caller, requires_auth)
        status = row.ok if want == "ok" else want
        good = r.status_code == status
        if good and status == 403 and caller.endswith("_few") and row.scope is not None:
            good = r.json()["error"].get("data", {}).get("required_scope") == row.scope.value
        if good and r.is_success and not caller.startswith("owner") and "acme" in r.text:
            good = False  # a listing or an app's own data that shows the owner's workspace
        if not good:
            failures.append(f"{caller}: got {r.status_code}, want {status}: {r.text[:200]}")
    assert not failures, f"{row.method} {path}\n" + "\n".join(failures)
