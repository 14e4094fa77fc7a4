from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from appdock.config import Settings
from appdock.models import WebhookAttempt, WebhookDelivery, WebhookSubscription, Workspace
from tests.factories.account import make_team, make_user
from tests.factories.webhook import make_hook, make_installation, make_repo, publish_event
from tests.webhook.conftest import fast, running_worker, writing
from tests.webhook.receiver import Receiver


def rows(db: Session) -> list[WebhookDelivery]:
    db.expire_all()
    result = list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    db.commit()
    return result


def attempts(db: Session, delivery: WebhookDelivery) -> list[WebhookAttempt]:
    db.expire_all()
    result = list(
        db.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.number)
        )
    )
    db.commit()
    return result


def subscription(db: Session, sub_id: int) -> WebhookSubscription:
    db.expire_all()
    sub = db.get(WebhookSubscription, sub_id)
    db.commit()
    assert sub is not None
    return sub


def settled(db: Session, count: int | None = None) -> bool:
    current = rows(db)
    if count is not None and len(current) < count:
        return False
    return all(d.status != "pending" for d in current)


def team_repo(db: Session) -> tuple[Workspace, Any]:
    ws = make_team(db, "acme", make_user(db))
    return ws, make_repo(db, ws, "widget")


class TestDelivery:
    def test_plain_hook_is_delivered_signed_and_recorded(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        hook = make_hook(session, settings, repo, receiver.url("/ok"), secret=secret)
        publish_event(session, "repo:push", ws, repo, {"push": {"changes": []}})
        with running_worker(fast(settings)):
            assert receiver.wait_for(lambda: len(receiver.hits("/ok")) == 1)
            assert receiver.wait_for(lambda: settled(session, 1))
        [got] = receiver.hits("/ok")
        assert json.loads(got.body) == {"push": {"changes": []}}
        assert Webhook(secret).verify(got.body, got.headers) == {"push": {"changes": []}}
        assert got.headers["X-Hook-UUID"] == hook.uuid
        [d] = rows(session)
        assert got.headers["webhook-id"] == d.uuid == got.headers["X-Request-UUID"]
        assert (d.status, d.attempts, d.last_status) == ("delivered", 1, 200)
        [a] = attempts(session, d)
        assert (a.number, a.response_status, a.outcome) == (1, 200, "delivered")
        assert a.response_body == "thanks"
        assert a.request_headers["X-Event-Key"] == "repo:push"
        assert a.duration_ms >= 0

    def test_connect_delivery_is_wrapped_and_jwt_signed(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        import hashlib

        import jwt

        ws, repo = team_repo(session)
        target = make_installation(
            session, settings, ws, receiver.base + "/ok/app", webhooks=[("repo:push", "/push")]
        )
        publish_event(session, "repo:push", ws, repo, {"push": {"changes": [1]}})
        with running_worker(fast(settings)):
            assert receiver.wait_for(lambda: len(receiver.hits("/ok/app/push")) == 1)
        [got] = receiver.hits("/ok/app/push")
        assert json.loads(got.body) == {"event": "repo:push", "data": {"push": {"changes": [1]}}}
        scheme, token = got.headers["Authorization"].split(" ")
        assert scheme == "JWT"
        claims = jwt.decode(
            token, target.shared_secret, algorithms=["HS256"], audience=target.client_key
        )
        assert claims["iss"] == target.client_key
        assert claims["qsh"] == hashlib.sha256(b"POST&/push&").hexdigest()


class TestRetries:
    def test_receiver_down_then_back_gets_every_delivery(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/flaky/a"))
        for i in range(5):
            publish_event(session, "repo:push", ws, repo, {"n": i})
        schedule = [0.2] * 30
        with running_worker(fast(settings, webhook_retry_schedule=schedule)):
            assert receiver.wait_for(lambda: len(receiver.hits("/flaky/a")) >= 10)
            receiver.recover("a")
            assert receiver.wait_for(lambda: settled(session, 5), timeout=30)
        assert [d.status for d in rows(session)] == ["delivered"] * 5
        ok = {
            json.loads(r.body)["n"] for r in receiver.hits("/flaky/a") if "a" in receiver.recovered
        }
        assert ok == {0, 1, 2, 3, 4}
        d = rows(session)[0]
        log = attempts(session, d)
        assert [a.outcome for a in log][-1] == "delivered"
        assert all(a.outcome == "retry" and a.response_status == 503 for a in log[:-1])
        numbers = [a.number for a in log]
        assert numbers == list(range(1, len(log) + 1))
        headers = [r.headers["X-Attempt-Number"] for r in receiver.hits("/flaky/a")]
        assert "2" in headers

    def test_schedule_exhausted_fails_the_delivery(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/status/500"))
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings, webhook_retry_schedule=[0.05, 0.05])):
            assert receiver.wait_for(lambda: settled(session, 1))
        [d] = rows(session)
        assert (d.status, d.attempts) == ("failed", 3)
        assert "gave up after 3 attempts" in (d.last_error or "")

    def test_gone_disables_the_subscription(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        hook = make_hook(session, settings, repo, receiver.url("/status/410"))
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings)):
            assert receiver.wait_for(lambda: settled(session, 1))
        sub = subscription(session, hook.id)
        assert sub.active is False
        assert "410" in (sub.disabled_reason or "")
        assert len(receiver.hits("/status/410")) == 1
        publish_event(session, "repo:push", ws, repo)
        assert len(rows(session)) == 1  # a disabled hook gets no new deliveries

    @pytest.mark.parametrize("status", [400, 404, 422])
    def test_client_errors_fail_without_retry(
        self, session: Session, settings: Settings, receiver: Receiver, status: int
    ) -> None:
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url(f"/status/{status}"))
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings)):
            assert receiver.wait_for(lambda: settled(session, 1))
        [d] = rows(session)
        assert (d.status, d.attempts, d.last_status) == ("failed", 1, status)
        assert len(receiver.hits("/status/")) == 1

    def test_retry_after_is_honoured(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/retry-after/1"))
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings, webhook_retry_schedule=[0.01])):
            assert receiver.wait_for(lambda: settled(session, 1), timeout=15)
        first, second = receiver.hits("/retry-after/1")
        assert second.at - first.at >= 0.9  # the schedule said 0.01 s; Retry-After said 1 s
        [d] = rows(session)
        assert d.status == "delivered"
        log = attempts(session, d)
        assert log[0].response_status == 429 and log[0].response_headers is not None
        assert log[0].response_headers.get("Retry-After") == "1"

    def test_failing_for_the_disable_window_disables_and_a_test_delivery_heals(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        from appdock.webhook.service import WebhookService

        ws, repo = team_repo(session)
        hook = make_hook(session, settings, repo, receiver.url("/flaky/b"))
        publish_event(session, "repo:push", ws, repo)
        tuned = fast(settings, webhook_disable_after=0.0, webhook_retry_schedule=[0.05] * 5)
        with running_worker(tuned):
            assert receiver.wait_for(lambda: settled(session, 1))
            sub = subscription(session, hook.id)
            assert not sub.active and sub.disabled_reason
            receiver.recover("b")
            with writing(settings) as db:
                WebhookService(db, settings).send_test(db.get_one(WebhookSubscription, hook.id))
            assert receiver.wait_for(lambda: settled(session, 2))
        sub = subscription(session, hook.id)
        assert sub.active and sub.disabled_reason is None
        assert json.loads(receiver.hits("/flaky/b")[-1].body)["test"] is True


class TestHostileReceivers:
    def test_redirect_is_recorded_not_followed(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/redirect"))
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings)):
            assert receiver.wait_for(lambda: settled(session, 1))
        [d] = rows(session)
        assert (d.status, d.last_status, d.attempts) == ("failed", 301, 1)
        assert "not followed" in (d.last_error or "")
        assert "10.0.0.1" in (d.last_error or "")

    def test_private_address_refused_by_policy(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/ok"))  # created while loopback allowed
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings, allow_private_app_urls="off")):
            assert receiver.wait_for(lambda: settled(session, 1))
        [d] = rows(session)
        assert d.status == "failed" and d.attempts == 1
        assert "loopback" in (d.last_error or "")
        assert receiver.hits("/ok") == []

    def test_name_resolving_to_private_address_refused_after_dns(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        class Rebinding(AbstractResolver):
            async def resolve(
                self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
            ) -> list[ResolveResult]:
                return [
                    ResolveResult(
                        hostname=host, host="10.1.2.3", port=port, family=family, proto=0, flags=0
                    )
                ]

            async def close(self) -> None:
                return None

        ws, repo = team_repo(session)
        make_hook(session, settings, repo, "http://hooks.example.test/x")
        publish_event(session, "repo:push", ws, repo)
        with running_worker(fast(settings, allow_private_app_urls="off"), resolver=Rebinding()):
            assert receiver.wait_for(lambda: settled(session, 1))
        [d] = rows(session)
        assert d.status == "failed"
        assert "private address 10.1.2.3" in (d.last_error or "")

    def test_huge_hanging_reset_and_unresolvable_do_not_block_others(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        ws, repo = team_repo(session)
        bad = ["/huge", "/hang-after-headers", "/reset"]
        for path in bad:
            make_hook(session, settings, repo, receiver.url(path))
        make_hook(session, settings, repo, "http://no-such-host.invalid/hook")
        make_hook(session, settings, repo, receiver.url("/ok"))
        for i in range(3):
            publish_event(session, "repo:push", ws, repo, {"n": i})
        with running_worker(fast(settings, webhook_retry_schedule=[], webhook_timeout=2.0)):
            assert receiver.wait_for(lambda: len(receiver.hits("/ok")) == 3, timeout=10)
            assert receiver.wait_for(lambda: settled(session, 15), timeout=20)
        by_url: dict[str, list[WebhookDelivery]] = {}
        for d in rows(session):
            sub = subscription(session, d.subscription_id)
            by_url.setdefault(sub.url.rsplit("/", 1)[-1], []).append(d)
        assert all(d.status == "delivered" for d in by_url["ok"])
        huge = attempts(session, by_url["huge"][0])[0]
        assert huge.response_status == 200 and len(huge.response_body or "") == 4096
        hang = attempts(session, by_url["hang-after-headers"][0])[0]
        assert hang.response_status == 200 and "timed out" in (hang.error or "")
        reset = by_url["reset"][0]
        assert reset.status == "failed" and reset.last_status is None and reset.last_error
        dns = by_url["hook"][0]
        assert dns.status == "failed" and dns.last_error

    def test_payload_over_limit_is_not_sent_and_says_why(
        self,
        session: Session,
        settings: Settings,
        receiver: Receiver,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.WARNING, logger="appdock.webhook.worker")
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/ok"))
        publish_event(session, "repo:push", ws, repo, {"blob": "x" * (300 * 1024)})
        publish_event(session, "repo:push", ws, repo, {"small": True})
        with running_worker(fast(settings)):
            assert receiver.wait_for(lambda: settled(session, 2))
        big, small = rows(session)
        assert big.status == "failed" and "over the 256 KB limit" in (big.last_error or "")
        assert attempts(session, big)[0].error == big.last_error
        assert small.status == "delivered"
        assert [json.loads(r.body) for r in receiver.hits("/ok")] == [{"small": True}]
        [entry] = [r for r in caplog.records if "over the 256 KB limit" in r.getMessage()]
        assert entry.levelno == logging.WARNING and big.uuid in entry.getMessage()


class TestIsolation:
    def test_slow_receiver_holds_only_its_share(
        self, session: Session, settings: Settings, receiver: Receiver
    ) -> None:
        """A receiver that hangs 10 s per request beside a fast one: while the slow one holds
        its per-subscription slots, every fast delivery arrives."""
        ws, repo = team_repo(session)
        make_hook(session, settings, repo, receiver.url("/slow/10"))
        make_hook(session, settings, repo, receiver.url("/ok"))
        for i in range(40):
            publish_event(session, "repo:push", ws, repo, {"n": i})
        tuned = fast(
            settings,
            webhook_timeout=15.0,
            webhook_per_subscription_concurrency=2,
            webhook_concurrency=8,
        )
        with running_worker(tuned):
            assert receiver.wait_for(lambda: len(receiver.hits("/ok")) == 40, timeout=8)
            slow_started = len(receiver.hits("/slow/10"))
            fast_done = len(receiver.hits("/ok"))
        assert fast_done == 40
        assert slow_started == 2  # its share: two in flight, the rest wait in the table


class TestTransientErrors:
    def test_deadlock_and_serialization_failures_are_retried_at_once(self) -> None:
        from sqlalchemy.exc import OperationalError

        from appdock.webhook.worker import transient

        class DriverError(Exception):
            def __init__(self, sqlstate: str | None) -> None:
                super().__init__(sqlstate)
                self.sqlstate = sqlstate

        def wrapped(sqlstate: str | None) -> OperationalError:
            return OperationalError("UPDATE webhook_subscriptions ...", {}, DriverError(sqlstate))

        assert transient(wrapped("40P01"))  # deadlock detected
        assert transient(wrapped("40001"))  # serialization failure
        assert not transient(wrapped("23505"))  # a unique violation is a bug, not a retry
        assert not transient(wrapped(None))  # SQLite's "database is locked" has no SQLSTATE
        assert not transient(RuntimeError("boom"))
