"""Event payload bodies in Bitbucket's webhook shapes (the ``data`` part of a Connect delivery,
compare shared/compat/webhook-payloads/). Built once per event, stored in ``events.payload``.

    >>> repo_event_payload(ctx, actor_payload(user, None, urls), urls)
    {"actor": {"type": "user", ...}, "repository": {"type": "repository", ...}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appdock.account.schemas import team_read, user_read
from appdock.core.urls import Urls
from appdock.git import Commit, Ref
from appdock.models import CommitStatus, User, Workspace
from appdock.repo.context import RepoContext
from appdock.repo.schemas import (
    branch_read,
    commit_read,
    commit_status_read,
    repository_read,
    tag_read,
)

Payload = dict[str, Any]

_REPO_KEYS = (
    "type",
    "full_name",
    "name",
    "uuid",
    "scm",
    "website",
    "owner",
    "workspace",
    "is_private",
    "project",
    "parent",
    "mainbranch",
    "links",
)


def actor_payload(user: User | None, workspace: Workspace | None, urls: Urls) -> Payload:
    """The account that acted: a user, or the workspace a team-installed app acts as."""
    if user is not None:
        return user_read(user, urls).model_dump(mode="json", exclude_none=True)
    if workspace is not None:
        return team_read(workspace, urls).model_dump(mode="json", exclude_none=True)
    return {"type": "user", "display_name": "Anonymous", "uuid": None, "links": {}}


def repository_payload(ctx: RepoContext, urls: Urls) -> Payload:
    full = repository_read(ctx, urls).model_dump(mode="json")
    out = {k: full[k] for k in _REPO_KEYS if full.get(k) is not None}
    out["links"] = {k: full["links"][k] for k in ("self", "html", "avatar")}
    if "workspace" in out:
        ws = out["workspace"]
        out["workspace"] = {
            "type": "workspace",
            "slug": ws["slug"],
            "name": ws["name"],
            "uuid": ws["uuid"],
            "links": {k: ws["links"][k] for k in ("self", "html", "avatar")},
        }
    return out


def repo_event_payload(ctx: RepoContext, actor: Payload, urls: Urls) -> Payload:
    """``repo:created`` / ``repo:deleted``: ``{actor, repository}``."""
    return {"actor": actor, "repository": repository_payload(ctx, urls)}


def repo_updated_payload(
    ctx: RepoContext, actor: Payload, changes: Mapping[str, tuple[Any, Any]], urls: Urls
) -> Payload:
    """``repo:updated``: ``changes`` maps a field to ``{"old", "new"}`` as Bitbucket sends it."""
    return {
        "actor": actor,
        "repository": repository_payload(ctx, urls),
        "changes": {k: {"old": old, "new": new} for k, (old, new) in changes.items()},
    }


def repo_fork_payload(
    source: RepoContext, fork: RepoContext, actor: Payload, urls: Urls
) -> Payload:
    """``repo:fork``: ``repository`` is the original, ``fork`` the new copy."""
    return {
        "actor": actor,
        "repository": repository_payload(source, urls),
        "fork": repository_payload(fork, urls),
    }


def commit_status_payload(
    ctx: RepoContext, status: CommitStatus, actor: Payload, urls: Urls
) -> Payload:
    """``repo:commit_status_created`` / ``_updated``: ``{actor, repository, commit_status}``."""
    body = commit_status_read(ctx, status, urls).model_dump(mode="json")
    body["repository"] = repository_payload(ctx, urls)
    return {"actor": actor, "repository": repository_payload(ctx, urls), "commit_status": body}


def ref_payload(
    ctx: RepoContext, ref: Ref, urls: Urls, users_by_email: Mapping[str, User]
) -> Payload:
    """A branch or tag as ``push.changes[].old/new`` carry it (target without repository)."""
    if ref.kind == "branch":
        return branch_read(ctx, ref, urls, users_by_email, with_repository=False).model_dump(
            mode="json", exclude_none=True
        )
    return tag_read(ctx, ref, urls, users_by_email, with_repository=False).model_dump(
        mode="json", exclude_none=True
    )


def commit_payload(
    ctx: RepoContext, commit: Commit, urls: Urls, users_by_email: Mapping[str, User]
) -> Payload:
    return commit_read(ctx, commit, urls, users_by_email, with_repository=False).model_dump(
        mode="json", exclude_none=True
    )


def push_payload(ctx: RepoContext, actor: Payload, changes: list[Payload], urls: Urls) -> Payload:
    """``repo:push``: ``{actor, repository, push: {changes: [...]}}``."""
    return {
        "actor": actor,
        "repository": repository_payload(ctx, urls),
        "push": {"changes": changes},
    }
