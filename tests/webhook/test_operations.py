from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.time import utc_now
from appdock.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from appdock.webhook.service import WebhookService
from appdock.webhook.store import WebhookStore
from tests.factories.account import make_team, make_user
from tests.factories.webhook import make_hook, make_repo, publish_event
from tests.webhook.conftest import fast, running_worker, writing
from tests.webhook.receiver import Receiver


def delivery_ids(db: Session) -> list[int]:
    ids = [d.id for d in db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]
    db.commit()  # no snapshot outlives a check
    return ids


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def fail_all(db: Session) -> list[WebhookDelivery]:
    rows = list(db.scalars(select(WebhookDelivery)))
    for d in rows:
        d.status = "failed"
        d.finished_at = utc_now()
    db.commit()
    return rows


class TestRedeliverCommand:
    def test_requeues_failures_since_with_same_ids(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        hook = make_hook(session, settings, repo, "http://127.0.0.1:9/h")
        for _ in range(3):
            publish_event(session, "repo:push", ws, repo)
        before = {d.uuid for d in fail_all(session)}
        env = dict(
            os.environ,
            APPDOCK_DATABASE_URL=settings.database_url,
            APPDOCK_DATA_DIR=str(settings.data_dir),
            APPDOCK_SECRET_KEY=settings.secret_key,
        )
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "appdock",
                "webhook",
                "redeliver",
                "--since",
                "1h",
                "--hook",
                hook.uuid,
                "--batch",
                "2",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert "requeued 3 failed deliveries" in r.stdout
        assert "requeueing" in r.stdout  # the progress bar's label (the bar itself needs a tty)
        session.expire_all()
        rows = list(session.scalars(select(WebhookDelivery)))
        session.commit()
        assert {d.uuid for d in rows} == before
        assert {d.status for d in rows} == {"pending"}

    def test_bad_since_is_an_error_naming_it(self, settings: Settings) -> None:
        env = dict(
            os.environ,
            APPDOCK_DATABASE_URL=settings.database_url,
            APPDOCK_SECRET_KEY=settings.secret_key,
        )
        r = subprocess.run(
            [sys.executable, "-m", "appdock", "webhook", "redeliver", "--since", "yesterday-ish"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 1
        assert "--since" in r.stderr


class TestPruning:
    def test_old_attempts_and_finished_deliveries_are_pruned(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_hook(session, settings, repo, "http://127.0.0.1:9/h")
        publish_event(session, "repo:push", ws, repo)
        publish_event(session, "repo:push", ws, repo)
        old, new = fail_all(session)
        long_ago = utc_now() - timedelta(days=40)
        for d, when in ((old, long_ago), (new, utc_now())):
            session.add(
                WebhookAttempt(
                    delivery_id=d.id,
                    number=1,
                    started_at=when,
                    duration_ms=1.0,
                    url="u",
                    request_headers={},
                    outcome="failed",
                )
            )
        old.finished_at = long_ago
        session.commit()
        removed = WebhookStore(session).prune(utc_now() - timedelta(days=30))
        session.commit()
        assert removed == 1
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 1
        assert [d.id for d in session.scalars(select(WebhookDelivery))] == [new.id]
        session.commit()

    def test_a_starting_worker_prunes_by_the_retention_setting(
        self, session: Session, settings: Settings
    ) -> None:
        """The worker prunes when it starts (then every hour), not an hour after the machine
        booted: pruning must not depend on the monotonic clock's origin."""
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_hook(session, settings, repo, "http://127.0.0.1:9/h")
        publish_event(session, "repo:push", ws, repo)
        publish_event(session, "repo:push", ws, repo)
        old, new = fail_all(session)
        for d, age in ((old, timedelta(days=3)), (new, timedelta(hours=1))):
            session.add(
                WebhookAttempt(
                    delivery_id=d.id,
                    number=1,
                    started_at=utc_now() - age,
                    duration_ms=1.0,
                    url="u",
                    request_headers={},
                    outcome="failed",
                )
            )
        old.finished_at = utc_now() - timedelta(days=3)
        session.commit()
        tuned = fast(settings, webhook_retention_days=2.0)
        with running_worker(tuned):
            assert wait_until(lambda: delivery_ids(session) == [new.id])
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 1
        session.commit()


class TestEmbeddedWorker:
    def test_serve_runs_a_worker_that_delivers(
        self, settings: Settings, session: Session, receiver: Receiver
    ) -> None:
        from appdock.app import create_app

        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        hook = make_hook(session, settings, repo, receiver.url("/ok"))
        live = settings.model_copy(update={"webhook_worker": True, "webhook_poll_interval": 0.05})
        app = create_app(live)
        with TestClient(app):
            with writing(settings) as db:
                WebhookService(db, settings).send_test(db.get_one(WebhookSubscription, hook.id))
            assert receiver.wait_for(lambda: len(receiver.hits("/ok")) == 1, timeout=10)
        app.state.engine.dispose()
