"""Event payload bodies for issue events, in Bitbucket's webhook shapes (compare
shared/compat/webhook-payloads/issue_created.json):

- ``issue:created``: ``{actor, issue, repository}``
- ``issue:updated``: ``{actor, issue, repository, changes: {field: {old, new}}, comment}``
- ``issue:comment_created``: ``{actor, repository, issue, comment}``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appdock.core.urls import Urls
from appdock.issue.context import IssueContext
from appdock.issue.schemas import IssueCommentRead, issue_read
from appdock.repo.payloads import repository_payload

Payload = dict[str, Any]


def issue_payload(ctx: IssueContext, urls: Urls) -> Payload:
    body = issue_read(ctx, urls).model_dump(mode="json")
    body["repository"] = repository_payload(ctx.repo, urls)
    return body


def issue_event_payload(ctx: IssueContext, actor: Payload, urls: Urls) -> Payload:
    return {
        "actor": actor,
        "issue": issue_payload(ctx, urls),
        "repository": repository_payload(ctx.repo, urls),
    }


def issue_updated_payload(
    ctx: IssueContext,
    actor: Payload,
    changes: Mapping[str, Mapping[str, str]],
    comment: IssueCommentRead | None,
    urls: Urls,
) -> Payload:
    out = issue_event_payload(ctx, actor, urls)
    out["changes"] = {k: dict(v) for k, v in changes.items()}
    out["comment"] = comment.model_dump(mode="json") if comment else None
    return out


def issue_comment_payload(
    ctx: IssueContext, actor: Payload, comment: IssueCommentRead, urls: Urls
) -> Payload:
    out = issue_event_payload(ctx, actor, urls)
    out["comment"] = comment.model_dump(mode="json")
    return out
