"""Fault tests with real worker processes: SIGKILL in the middle of a burst loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.event.service import publish
from appdock.models import WebhookDelivery
from tests.factories.account import make_team, make_user
from tests.factories.webhook import make_hook, make_repo
from tests.webhook.receiver import Receiver

BURST = 2000
CONCURRENCY = 32


def start_worker(settings: Settings, per_subscription: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        APPDOCK_DATABASE_URL=settings.database_url,
        APPDOCK_DATA_DIR=str(settings.data_dir),
        APPDOCK_SECRET_KEY=settings.secret_key,
        APPDOCK_ALLOW_PRIVATE_APP_URLS="loopback",
        APPDOCK_WEBHOOK_LEASE="3",
        APPDOCK_WEBHOOK_POLL_INTERVAL="0.05",
        APPDOCK_WEBHOOK_RETRY_SCHEDULE="0.1,0.1,0.1",
        APPDOCK_LOG_LEVEL="warning",
        APPDOCK_WEBHOOK_PER_SUBSCRIPTION_CONCURRENCY=str(per_subscription),
    )
    with open(settings.data_dir / "worker.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "appdock", "worker", "--concurrency", str(CONCURRENCY)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def pending(db: Session) -> int:
    count = db.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.status != "delivered")
    )
    db.commit()
    return count or 0


@pytest.mark.e2e
class TestSigkill:
    @pytest.mark.parametrize("per_subscription", [4, CONCURRENCY])
    def test_worker_killed_mid_burst_loses_no_delivery(
        self, session: Session, settings: Settings, receiver: Receiver, per_subscription: int
    ) -> None:
        """One subscription, so ``per_subscription`` bounds what is in flight: the default (4),
        and the whole worker (32 requests in flight, batches of dozens)."""
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_hook(session, settings, repo, receiver.url("/ok"))
        for i in range(BURST):
            publish(
                session, "repo:push", workspace_id=ws.id, repository_id=repo.id, payload={"n": i}
            )
        session.commit()
        ids = set(session.scalars(select(WebhookDelivery.uuid)))
        session.commit()
        assert len(ids) == BURST

        first = start_worker(settings, per_subscription)
        try:
            assert receiver.wait_for(lambda: len(receiver.hits("/ok")) >= BURST // 4, timeout=60)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        killed_at = len(receiver.hits("/ok"))
        assert killed_at < BURST, "the burst finished before the kill; nothing was tested"
        second = start_worker(settings, per_subscription)
        try:
            assert receiver.wait_for(lambda: pending(session) == 0, timeout=120)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        received = Counter(r.headers["webhook-id"] for r in receiver.hits("/ok"))
        assert set(received) == ids  # every delivery arrived, none lost
        duplicates = sum(n - 1 for n in received.values())
        print(
            f"\nSIGKILL fault test ({session.get_bind().dialect.name}, {per_subscription} in "
            f"flight): {BURST} deliveries, "
            f"killed after {killed_at} receipts, {duplicates} received twice "
            f"({time.strftime('%Y-%m-%d')})"
        )
        # at most what the killed worker had sent and not yet committed: its requests in flight
        # and the outcomes waiting for a database round (the senders pause at 2 x concurrency)
        assert duplicates <= per_subscription + 2 * CONCURRENCY
