"""Event payload bodies for pull request events, in Bitbucket's webhook shapes (compare
shared/compat/webhook-payloads/pullrequest_created.json and pullrequest_fulfilled.json):

- ``pullrequest:created|updated|fulfilled|rejected``: ``{actor, pullrequest, repository}``
- ``pullrequest:approved|unapproved``: ``+ approval: {date, user}``
- ``pullrequest:changes_request_created|removed``: ``+ changes_request: {date, user}``
- ``pullrequest:comment_created|updated|deleted``: ``+ comment``

``repository`` is the destination repository.
"""

from __future__ import annotations

from typing import Any

from appdock.core.urls import Urls
from appdock.pullrequest.context import PullRequestContext
from appdock.pullrequest.schemas import CommentRead, pullrequest_read
from appdock.repo.payloads import repository_payload

Payload = dict[str, Any]


def pullrequest_payload(ctx: PullRequestContext, urls: Urls) -> Payload:
    body = pullrequest_read(ctx, urls).model_dump(mode="json", by_alias=True)
    for side, repo in (("source", ctx.source), ("destination", ctx.destination)):
        if repo is not None:
            body[side]["repository"] = repository_payload(repo, urls)
    return body


def pullrequest_event_payload(ctx: PullRequestContext, actor: Payload, urls: Urls) -> Payload:
    return {
        "actor": actor,
        "pullrequest": pullrequest_payload(ctx, urls),
        "repository": repository_payload(ctx.destination, urls),
    }


def review_event_payload(
    ctx: PullRequestContext, actor: Payload, key: str, review: Payload, urls: Urls
) -> Payload:
    """``key`` is ``approval`` or ``changes_request``; ``review`` is ``{date, user}``."""
    out = pullrequest_event_payload(ctx, actor, urls)
    out[key] = review
    return out


def comment_event_payload(
    ctx: PullRequestContext, actor: Payload, comment: CommentRead, urls: Urls
) -> Payload:
    out = pullrequest_event_payload(ctx, actor, urls)
    out["comment"] = comment.model_dump(mode="json", by_alias=True)
    return out
