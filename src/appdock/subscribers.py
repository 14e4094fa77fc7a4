"""The composition root for domain event subscribers.

:func:`register` is called by ``create_app`` and by the git hook process (which publishes
``repo:push`` outside the web process), so every process that publishes events has the same
subscribers. Domains that react to events (webhook fan-out, ...) add their registration here.
"""

from __future__ import annotations


def register() -> None:
    """Register every subscriber with :func:`appdock.event.service.subscribe` (idempotent)."""
    from appdock.event.service import subscribe
    from appdock.models import Installation
    from appdock.pullrequest.service import track_push
    from appdock.repo.push import on_push
    from appdock.webhook.fanout import fan_out
    from appdock.webhook.installations import watch_installations

    subscribe(fan_out)
    # Installing, upgrading or removing an app rewrites its webhook routes in the same commit.
    watch_installations(Installation)
    # Pull requests follow their source and destination branches as people push.
    on_push(track_push)
