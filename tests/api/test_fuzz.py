"""schemathesis against /api/openapi.json with valid credentials (an app password holding every
scope of the owner of a small world): a bounded number of generated requests per operation
(``APPDOCK_FUZZ_EXAMPLES``, default 6: about half a minute; 25 was run once, clean), two in three
aimed at the world's real objects, and not one of them may be answered with a server error."""

from __future__ import annotations

import os

import hypothesis
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.scopes import Scope
from tests.factories.account import basic, make_app_password, make_team, make_user
from tests.factories.pullrequest import make_branch, make_repo, open_pr

EXAMPLES = int(os.environ.get("APPDOCK_FUZZ_EXAMPLES", "6"))
ALL = " ".join(s.value for s in Scope)
KNOWN = {
    "workspace": "acme",
    "repo_slug": "widget",
    "selected_user": "alice",
    "member": "alice",
    "account": "acme",
    "pull_request_id": "1",
    "pullrequest_id": "1",
    "issue_id": "1",
    "revision": "main",
    "commit": "main",
    "subject_type": "repository",
}


def test_no_operation_answers_with_a_server_error(
    app: FastAPI, db: Session, settings: Settings
) -> None:
    alice = make_user(db, "alice")
    acme = make_team(db, "acme", alice)
    repo = make_repo(db, settings, alice, "widget", workspace=acme)
    make_branch(settings, repo, "feature", {"f.txt": "f\n"})
    open_pr(db, settings, alice, repo, "feature")
    headers = basic("alice", make_app_password(db, alice, ALL))
    db.rollback()

    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    seen: dict[int, int] = {}
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            calls.append(1)
            if len(calls) % 3:  # two calls in three reach real objects; the rest stay random
                for name, value in KNOWN.items():
                    if name in (case.path_parameters or {}):
                        case.path_parameters[name] = value
            response = case.call(base_url="http://testserver/api", headers=headers)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query} "
                    f"body={case.body!r:.200}: {response.status_code} {response.text[:200]}"
                )

        run()
    assert seen.get(200), "no request reached a real object"
    assert operations > 100
    assert not failures, "\n".join(failures)
