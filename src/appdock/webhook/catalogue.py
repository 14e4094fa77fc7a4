"""The webhook event catalogue (``GET /2.0/hook_events``) and the scope each event needs.

An installation receives an event only if the closure of its granted scopes holds the event's
scope (connect-spec §3 rule (d)): pull request events need ``pullrequest``, repository events
``repository``, issue events ``issue``, project events ``project``.
"""

from __future__ import annotations

from dataclasses import dataclass

from appdock.core.scopes import Scope


@dataclass(frozen=True)
class HookEvent:
    event: str
    category: str
    label: str
    description: str


_E = HookEvent
EVENTS: tuple[HookEvent, ...] = (
    _E("repo:push", "Repository", "Push", "Whenever a repository push occurs"),
    _E("repo:fork", "Repository", "Fork", "Whenever a repository fork occurs"),
    _E("repo:updated", "Repository", "Updated", "Whenever a repository is updated"),
    _E("repo:created", "Repository", "Created", "Whenever a repository is created"),
    _E("repo:deleted", "Repository", "Deleted", "Whenever a repository is deleted"),
    _E("repo:imported", "Repository", "Imported", "Whenever a repository import occurs"),
    _E("repo:transfer", "Repository", "Transfer accepted", "Whenever a transfer is accepted"),
    _E(
        "repo:commit_comment_created",
        "Repository",
        "Commit comment created",
        "Whenever a commit is commented on",
    ),
    _E(
        "repo:commit_status_created",
        "Repository",
        "Build status created",
        "Whenever a build status is created",
    ),
    _E(
        "repo:commit_status_updated",
        "Repository",
        "Build status updated",
        "Whenever a build status is updated",
    ),
    _E("issue:created", "Issue", "Created", "Whenever an issue is created"),
    _E("issue:updated", "Issue", "Updated", "Whenever an issue is updated"),
    _E("issue:comment_created", "Issue", "Comment created", "Whenever an issue is commented on"),
    _E("pullrequest:created", "Pull Request", "Created", "Whenever a pull request is created"),
    _E("pullrequest:updated", "Pull Request", "Updated", "Whenever a pull request is updated"),
    _E("pullrequest:push", "Pull Request", "Push", "Whenever a pull request's source changes"),
    _E(
        "pullrequest:changes_request_created",
        "Pull Request",
        "Changes request created",
        "Whenever a change request is created",
    ),
    _E(
        "pullrequest:changes_request_removed",
        "Pull Request",
        "Changes request removed",
        "Whenever a change request is removed",
    ),
    _E("pullrequest:approved", "Pull Request", "Approved", "Whenever a pull request is approved"),
    _E(
        "pullrequest:unapproved",
        "Pull Request",
        "Approval removed",
        "Whenever a pull request approval is removed",
    ),
    _E("pullrequest:fulfilled", "Pull Request", "Merged", "Whenever a pull request is merged"),
    _E("pullrequest:rejected", "Pull Request", "Declined", "Whenever a pull request is declined"),
    _E(
        "pullrequest:comment_created",
        "Pull Request",
        "Comment created",
        "Whenever a pull request comment is created",
    ),
    _E(
        "pullrequest:comment_updated",
        "Pull Request",
        "Comment updated",
        "Whenever a pull request comment is updated",
    ),
    _E(
        "pullrequest:comment_deleted",
        "Pull Request",
        "Comment deleted",
        "Whenever a pull request comment is deleted",
    ),
    _E(
        "pullrequest:comment_resolved",
        "Pull Request",
        "Comment resolved",
        "Whenever a pull request comment is resolved",
    ),
    _E(
        "pullrequest:comment_reopened",
        "Pull Request",
        "Comment reopened",
        "Whenever a pull request comment is reopened",
    ),
    _E("project:updated", "Project", "Updated", "Whenever a project is updated"),
)
EVENT_KEYS: frozenset[str] = frozenset(e.event for e in EVENTS)
WILDCARD = "*"

_CATEGORY_SCOPE = {
    "pullrequest": Scope.PULLREQUEST,
    "repo": Scope.REPOSITORY,
    "issue": Scope.ISSUE,
    "project": Scope.PROJECT,
}


def required_scope(event_key: str) -> Scope:
    """The scope an installation needs to receive ``event_key`` (``repository`` by default)."""
    return _CATEGORY_SCOPE.get(event_key.split(":", 1)[0], Scope.REPOSITORY)


def event_allowed(event_key: str, scopes_closure: frozenset[Scope]) -> bool:
    return required_scope(event_key) in scopes_closure
