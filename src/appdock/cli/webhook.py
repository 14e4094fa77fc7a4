"""``appdock worker`` and ``appdock webhook ...``: the delivery worker and operations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from appdock.cli.common import cli_errors, session_scope, settings
from appdock.core.errors import BadRequest
from appdock.core.time import utc_now

webhook_app = typer.Typer(no_args_is_help=True, help="Webhook deliveries.")

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str) -> datetime:
    """An ISO 8601 time (UTC when no offset), or a duration back from now: ``90m``, ``2h``."""
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        return utc_now() - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"--since: {value!r} is neither an ISO 8601 time nor a duration like 2h or 1d"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight (default APPDOCK_WEBHOOK_CONCURRENCY).")
    ] = None,
) -> None:
    """Run a webhook delivery worker until interrupted (any number may run on PostgreSQL)."""
    import logging

    from appdock.webhook.worker import run_worker

    s = settings()
    logging.basicConfig(
        level=s.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_worker(s, concurrency=concurrency)


@webhook_app.command("redeliver")
@cli_errors
def redeliver(
    since: Annotated[str, typer.Option(help="ISO 8601 time, or a duration back from now (2h).")],
    hook: Annotated[str | None, typer.Option(help="Only this webhook (its uuid).")] = None,
    installation: Annotated[
        int | None, typer.Option(help="Only this installation's webhooks (its id).")
    ] = None,
    batch: Annotated[int, typer.Option(help="Deliveries requeued per transaction.")] = 500,
) -> None:
    """Redeliver every failed delivery created since a time (same webhook-id, new attempts)."""
    from appdock.webhook.service import WebhookService

    when = parse_since(since)
    with session_scope() as (session, s):
        svc = WebhookService(session, s)
        sub_ids = svc.subscription_ids(hook_uuid=hook, installation_id=installation)
        total = svc.count_failed_since(sub_ids, when)
    if total == 0:
        typer.echo(f"no failed deliveries since {when.isoformat()}")
        return
    done = 0
    after = 0
    with typer.progressbar(length=total, label="requeueing", file=None) as bar:
        while True:
            with session_scope() as (session, s):
                count, last = WebhookService(session, s).redeliver_failed_page(
                    sub_ids, when, after_id=after, limit=max(1, batch)
                )
            if last is None:
                break
            after = last
            done += count
            bar.update(count)
    typer.echo(f"requeued {done} failed deliveries since {when.isoformat()}")
