"""The one scope catalogue: Bitbucket's scopes, what each grants, and what each implies.

It serves app descriptors, app passwords, OAuth consumers and installation tokens alike.
``closure`` applies the implication table until nothing changes (connect-spec.md §3):

    >>> sorted(s.value for s in closure({Scope.PULLREQUEST_WRITE}))
    ['pullrequest', 'pullrequest:write', 'repository', 'repository:write']
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    ACCOUNT = "account"
    ACCOUNT_WRITE = "account:write"
    EMAIL = "email"
    TEAM = "team"
    TEAM_WRITE = "team:write"
    PROJECT = "project"
    PROJECT_ADMIN = "project:admin"
    REPOSITORY = "repository"
    REPOSITORY_WRITE = "repository:write"
    REPOSITORY_ADMIN = "repository:admin"
    REPOSITORY_DELETE = "repository:delete"
    PULLREQUEST = "pullrequest"
    PULLREQUEST_WRITE = "pullrequest:write"
    ISSUE = "issue"
    ISSUE_WRITE = "issue:write"
    WIKI = "wiki"
    SNIPPET = "snippet"
    SNIPPET_WRITE = "snippet:write"
    WEBHOOK = "webhook"
    PIPELINE = "pipeline"
    PIPELINE_WRITE = "pipeline:write"
    PIPELINE_VARIABLE = "pipeline:variable"
    RUNNER = "runner"
    RUNNER_WRITE = "runner:write"


DESCRIPTIONS: dict[Scope, str] = {
    Scope.ACCOUNT: "Read your account information",
    Scope.ACCOUNT_WRITE: "Read and modify your account information",
    Scope.EMAIL: "Read your primary email address",
    Scope.TEAM: "Read your workspace membership information",
    Scope.TEAM_WRITE: "Read and modify your workspace membership information",
    Scope.PROJECT: "Read your projects and the repositories in them",
    Scope.PROJECT_ADMIN: "Administer your projects",
    Scope.REPOSITORY: "Read your repositories: source, history, clone, and use the issue tracker",
    Scope.REPOSITORY_WRITE: "Read and modify your repositories: push and fork",
    Scope.REPOSITORY_ADMIN: "Administer your repositories (settings, permissions, hooks)",
    Scope.REPOSITORY_DELETE: "Delete your repositories",
    Scope.PULLREQUEST: "Read your repositories and their pull requests",
    Scope.PULLREQUEST_WRITE: "Read and modify your repositories and their pull requests",
    Scope.ISSUE: "Read your repositories' issues",
    Scope.ISSUE_WRITE: "Read and modify your repositories' issues",
    Scope.WIKI: "Read and modify your repositories' wikis",
    Scope.SNIPPET: "Read your snippets",
    Scope.SNIPPET_WRITE: "Read and modify your snippets",
    Scope.WEBHOOK: "Read and modify your repositories' and workspaces' webhooks",
    Scope.PIPELINE: "Read your pipelines",
    Scope.PIPELINE_WRITE: "Read and modify your pipelines",
    Scope.PIPELINE_VARIABLE: "Read and modify your pipeline variables",
    Scope.RUNNER: "Read your runners",
    Scope.RUNNER_WRITE: "Read and modify your runners",
}

IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.ACCOUNT_WRITE: frozenset({Scope.ACCOUNT}),
    Scope.TEAM_WRITE: frozenset({Scope.TEAM}),
    Scope.PROJECT: frozenset({Scope.REPOSITORY}),
    Scope.PROJECT_ADMIN: frozenset({Scope.PROJECT}),
    Scope.REPOSITORY_WRITE: frozenset({Scope.REPOSITORY}),
    Scope.PULLREQUEST: frozenset({Scope.REPOSITORY}),
    Scope.PULLREQUEST_WRITE: frozenset({Scope.PULLREQUEST, Scope.REPOSITORY_WRITE}),
    Scope.ISSUE_WRITE: frozenset({Scope.ISSUE}),
    Scope.SNIPPET_WRITE: frozenset({Scope.SNIPPET}),
    Scope.PIPELINE_WRITE: frozenset({Scope.PIPELINE}),
    Scope.RUNNER_WRITE: frozenset({Scope.RUNNER}),
}

ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


class UnknownScope(ValueError):
    def __init__(self, value: str) -> None:
        super().__init__(f'unknown scope "{value}"')
        self.value = value


def parse_scope(value: str) -> Scope:
    try:
        return Scope(value.strip().lower())
    except ValueError as exc:
        raise UnknownScope(value) from exc


def parse_scopes(values: Iterable[str] | str) -> frozenset[Scope]:
    """Scopes from a list or a space/comma separated string; raises UnknownScope."""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    return frozenset(parse_scope(v) for v in values if v.strip())


def closure(scopes: Iterable[Scope]) -> frozenset[Scope]:
    result = set(scopes)
    pending = list(result)
    while pending:
        for implied in IMPLIES.get(pending.pop(), ()):
            if implied not in result:
                result.add(implied)
                pending.append(implied)
    return frozenset(result)


def format_scopes(scopes: Iterable[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))
