"""Every query of the webhook domain: subscriptions and their routes, the delivery outbox, the
worker's claims and batched records, the delivery log.

Claims (:meth:`WebhookStore.claim`): a due row is ``status = 'pending' AND next_attempt_at <=
now``. Claiming moves ``next_attempt_at`` to the end of the lease (and sets ``locked_until`` /
``locked_by`` for people reading the log), so a claimed row is simply not due until its lease
ends: a worker that dies mid-send leaves rows that fall due again by themselves. On PostgreSQL the
candidates are read ``FOR UPDATE SKIP LOCKED`` so concurrent workers never claim the same row; on
SQLite the claim runs in a ``BEGIN IMMEDIATE`` transaction, one writer at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from appdock.models import (
    Event,
    Repository,
    WebhookAttempt,
    WebhookDelivery,
    WebhookRoute,
    WebhookSubscription,
    Workspace,
)

D = WebhookDelivery
S = WebhookSubscription
HEALTH_RESOLUTION = timedelta(seconds=5)  # last_success_at / last_failure_at are this precise


@dataclass(frozen=True)
class SubscriptionMatch:
    id: int
    kind: str
    workspace_id: int
    app_key: str | None
    scopes: str | None


_MATCH = text(
    """
    SELECT s.id, s.kind, s.workspace_id, s.app_key, s.scopes
    FROM webhook_subscriptions s
    WHERE s.active = :true AND s.id IN (
        SELECT subscription_id FROM webhook_routes
        WHERE scope_kind = 'workspace' AND event_key IN (:key, '*') AND scope_id = :ws
        UNION ALL
        SELECT subscription_id FROM webhook_routes
        WHERE scope_kind = 'repository' AND event_key IN (:key, '*') AND scope_id = :repo
        UNION ALL
        SELECT subscription_id FROM webhook_routes
        WHERE scope_kind = 'user' AND event_key IN (:key, '*') AND (
            EXISTS (SELECT 1 FROM repositories WHERE id = :repo AND is_private = :false)
            OR scope_id IN (SELECT user_id FROM memberships WHERE workspace_id = :ws)
        )
    )
    ORDER BY s.id
    """
).bindparams(true=True, false=False)


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery with everything needed to send it."""

    delivery_id: int
    delivery_uuid: str
    subscription_id: int
    subscription_uuid: str
    kind: str
    url: str
    secret: str | None  # encrypted
    client_key: str | None
    base_url: str | None
    event_key: str
    event_time: datetime
    attempts: int
    retries: int
    is_test: bool
    payload: dict[str, Any] | None
    event_id: int | None = None


@dataclass
class Outcome:
    """The result of one attempt, to be recorded in a batch."""

    delivery_id: int
    subscription_id: int
    is_test: bool
    attempt: dict[str, Any]  # a webhook_attempts row
    status: str  # pending | delivered | failed
    attempts: int
    retries: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    finished_at: datetime | None
    effect: str  # success | failure | gone | none


@dataclass(frozen=True)
class RecordSummary:
    recorded: int
    disabled: list[int]


# ---- the worker's prepared statements (Core, on tables: no ORM work on the hot path) ----------
_D: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_S: Table = WebhookSubscription.__table__  # type: ignore[assignment]
_A: Table = WebhookAttempt.__table__  # type: ignore[assignment]
_E: Table = Event.__table__  # type: ignore[assignment]

_CLAIM = (
    select(
        _D.c.id,
        _D.c.uuid,
        _D.c.subscription_id,
        _S.c.uuid,
        _S.c.kind,
        _S.c.url,
        _S.c.secret,
        _S.c.client_key,
        _S.c.base_url,
        _D.c.event_key,
        _D.c.event_time,
        _D.c.attempts,
        _D.c.retries,
        _D.c.is_test,
        _D.c.test_payload,
        _D.c.event_id,
    )
    .select_from(_D.join(_S, _S.c.id == _D.c.subscription_id))
    .where(
        _D.c.status == "pending",
        _D.c.next_attempt_at <= bindparam("now", type_=_D.c.next_attempt_at.type),
        or_(_S.c.active == true(), _D.c.is_test == true()),
        _D.c.subscription_id.not_in(bindparam("busy", expanding=True)),
    )
    .order_by(_D.c.next_attempt_at, _D.c.id)
    .limit(bindparam("limit"))
)
_CLAIM_PG = _CLAIM.with_for_update(skip_locked=True, of=_D)
_LEASE = (
    update(_D)
    .where(_D.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        next_attempt_at=bindparam("until", type_=_D.c.next_attempt_at.type),
        locked_until=bindparam("until", type_=_D.c.locked_until.type),
        locked_by=bindparam("worker"),
    )
)
_PAYLOADS = select(_E.c.id, _E.c.payload).where(_E.c.id.in_(bindparam("ids", expanding=True)))
_ALIVE = select(_D.c.id).where(_D.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_ATTEMPT = _A.insert()
_FINISH = (
    update(_D)
    .where(_D.c.id == bindparam("b_id"), _D.c.locked_by == bindparam("b_worker"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        retries=bindparam("b_retries"),
        next_attempt_at=bindparam("b_next", type_=_D.c.next_attempt_at.type),
        locked_until=None,
        locked_by=None,
        last_status=bindparam("b_last_status"),
        last_error=bindparam("b_last_error"),
        finished_at=bindparam("b_finished", type_=_D.c.finished_at.type),
    )
)


class WebhookStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # ---- subscriptions -------------------------------------------------------------------------
    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    def subscription_by_id(self, sub_id: int) -> WebhookSubscription | None:
        return self.session.get(S, sub_id)

    def subscription_by_uuid(self, uuid: str) -> WebhookSubscription | None:
        return self.session.scalar(select(S).where(S.uuid == uuid))

    def subscriptions(
        self,
        *,
        kind: str | None = None,
        workspace_id: int | None = None,
        repository_id: int | None = None,
        installation_id: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[WebhookSubscription], int]:
        stmt = select(S)
        if kind is not None:
            stmt = stmt.where(S.kind == kind)
        if workspace_id is not None:
            stmt = stmt.where(S.workspace_id == workspace_id)
        if repository_id is not None:
            stmt = stmt.where(S.repository_id == repository_id)
        if installation_id is not None:
            stmt = stmt.where(S.installation_id == installation_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(S.id).offset(offset).limit(limit)).all()
        return list(rows), total

    def subscriptions_of_installation(self, installation_id: int) -> list[WebhookSubscription]:
        return list(
            self.session.scalars(
                select(S).where(S.installation_id == installation_id).order_by(S.id)
            )
        )

    def delete_subscriptions_of_installation(self, installation_id: int) -> int:
        """Remove an installation's subscriptions; their routes, queued deliveries and attempts
        go with them (foreign keys cascade), so nothing queued is ever sent."""
        ids = list(self.session.scalars(select(S.id).where(S.installation_id == installation_id)))
        self._delete_subscriptions(ids)
        return len(ids)

    def _delete_subscriptions(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        delivery_ids = select(D.id).where(D.subscription_id.in_(ids))
        self.session.execute(
            delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
        )
        self.session.execute(delete(D).where(D.subscription_id.in_(ids)))
        self.session.execute(delete(WebhookRoute).where(WebhookRoute.subscription_id.in_(ids)))
        self.session.execute(
            delete(S).where(S.id.in_(ids)), execution_options={"synchronize_session": "fetch"}
        )

    def delete_subscription(self, sub: WebhookSubscription) -> None:
        self._delete_subscriptions([sub.id])

    def replace_routes(self, sub_id: int, routes: Iterable[tuple[str, int, str]]) -> None:
        """Rewrite the routes of one subscription: ``(scope_kind, scope_id, event_key)``."""
        self.session.execute(delete(WebhookRoute).where(WebhookRoute.subscription_id == sub_id))
        rows = [
            {"subscription_id": sub_id, "scope_kind": k, "scope_id": i, "event_key": e}
            for k, i, e in sorted(set(routes))
        ]
        if rows:
            self.session.execute(insert(WebhookRoute), rows)

    def routes_of(self, sub_id: int) -> list[tuple[str, int, str]]:
        rows = self.session.execute(
            select(WebhookRoute.scope_kind, WebhookRoute.scope_id, WebhookRoute.event_key).where(
                WebhookRoute.subscription_id == sub_id
            )
        )
        return sorted((k, i, e) for k, i, e in rows)

    # ---- fan-out -------------------------------------------------------------------------------
    def matching_subscriptions(
        self,
        event_key: str,
        *,
        workspace_id: int,
        repository_id: int | None,
    ) -> list[SubscriptionMatch]:
        """Active subscriptions routed to this event: the repository's hooks, the workspace's
        hooks and team installations, and user installations of users who can reach the
        repository (every user when it is public; the workspace's members otherwise). Each part
        is an index range on ``ix_webhook_routes_lookup``; none reads unrelated installations.
        One prepared statement (the fan-out runs inside every publishing transaction, so its
        cost is the publisher's)."""
        rows = self.session.execute(
            _MATCH,
            {"key": event_key, "ws": workspace_id, "repo": repository_id or -1},
        )
        return [SubscriptionMatch(*row) for row in rows]

    def add_deliveries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(D), rows)

    # ---- worker: claims ------------------------------------------------------------------------
    def has_due(self, now: datetime) -> bool:
        stmt = select(literal(1)).where(D.status == "pending", D.next_attempt_at <= now).limit(1)
        return self.session.scalar(stmt) is not None

    def next_due(self) -> datetime | None:
        return self.session.scalar(select(func.min(D.next_attempt_at)).where(D.status == "pending"))

    def claim(
        self,
        *,
        now: datetime,
        lease_until: datetime,
        worker: str,
        limit: int,
        per_subscription: int,
        inflight: Mapping[int, int],
    ) -> list[Claimed]:
        """Claim up to ``limit`` due deliveries, at most ``per_subscription - inflight[sub]`` of
        any one subscription, skipping subscriptions with no free slot (a slow endpoint keeps
        its backlog in the table, not in this worker's memory).

        Three prepared Core statements per batch (the worker's hot path: no ORM, no statement
        built per call): the due rows with what sending needs (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL), the lease on the chosen ones, and the distinct events' payloads."""
        busy = sorted(s for s, n in inflight.items() if n >= per_subscription)
        conn = self.session.connection()
        stmt = _CLAIM_PG if self.is_postgres else _CLAIM
        taken: dict[int, int] = {}
        chosen: list[Any] = []
        for row in conn.execute(stmt, {"now": now, "busy": busy, "limit": limit}):
            sub_id = row[2]
            if per_subscription - inflight.get(sub_id, 0) - taken.get(sub_id, 0) > 0:
                taken[sub_id] = taken.get(sub_id, 0) + 1
                chosen.append(row)
        if not chosen:
            return []
        conn.execute(
            _LEASE, {"ids": [row[0] for row in chosen], "until": lease_until, "worker": worker}
        )
        event_ids = sorted({row[15] for row in chosen if row[15] is not None and not row[13]})
        payloads: dict[int, Any] = {}
        if event_ids:
            payloads = {row[0]: row[1] for row in conn.execute(_PAYLOADS, {"ids": event_ids})}
        return [
            Claimed(
                delivery_id=row[0],
                delivery_uuid=row[1],
                subscription_id=row[2],
                subscription_uuid=row[3],
                kind=row[4],
                url=row[5],
                secret=row[6],
                client_key=row[7],
                base_url=row[8],
                event_key=row[9],
                event_time=row[10],
                attempts=row[11],
                retries=row[12],
                is_test=row[13],
                payload=row[14] if row[13] else payloads.get(row[15]) if row[15] else None,
                event_id=row[15],
            )
            for row in chosen
        ]

    def release(self, delivery_ids: Sequence[int], *, worker: str, now: datetime) -> None:
        """Hand back deliveries this worker claimed and never sent (a graceful stop): due now,
        for any worker, instead of at the end of the lease."""
        if not delivery_ids:
            return
        self.session.execute(
            update(D)
            .where(D.id.in_(delivery_ids), D.locked_by == worker, D.status == "pending")
            .values(next_attempt_at=now, locked_until=None, locked_by=None),
            execution_options={"synchronize_session": False},
        )

    # ---- worker: records -----------------------------------------------------------------------
    def record(
        self,
        outcomes: Sequence[Outcome],
        *,
        worker: str,
        now: datetime,
        disable_after: timedelta,
    ) -> RecordSummary:
        """Write a batch of attempts and their consequences in one go: the attempt rows (one
        executemany), the delivery states (one executemany, only rows this worker still holds),
        the subscriptions' health (and automatic disabling)."""
        if not outcomes:
            return RecordSummary(0, [])
        conn = self.session.connection()
        ids = sorted({o.delivery_id for o in outcomes})
        alive = set(conn.scalars(_ALIVE, {"ids": ids}))
        kept = [o for o in outcomes if o.delivery_id in alive]
        if kept:
            conn.execute(_INSERT_ATTEMPT, [o.attempt for o in kept])
            conn.execute(
                _FINISH,
                [
                    {
                        "b_id": o.delivery_id,
                        "b_worker": worker,
                        "b_status": o.status,
                        "b_attempts": o.attempts,
                        "b_retries": o.retries,
                        "b_next": o.next_attempt_at,
                        "b_last_status": o.last_status,
                        "b_last_error": o.last_error,
                        "b_finished": o.finished_at,
                    }
                    for o in kept
                ],
            )
        # subscription health: the latest outcome per subscription in this batch decides
        latest: dict[int, Outcome] = {}
        for o in outcomes:
            if o.effect != "none":
                latest[o.subscription_id] = o
        ok = [s for s, o in latest.items() if o.effect == "success"]
        bad = [s for s, o in latest.items() if o.effect == "failure"]
        gone = [s for s, o in latest.items() if o.effect == "gone"]
        healed = [s for s, o in latest.items() if o.effect == "success" and o.is_test]
        if ok:
            # written when it changes something: a subscription that was failing, or a success
            # time older than HEALTH_RESOLUTION. Busy subscriptions are not rewritten (and, on
            # PostgreSQL, not row-locked) by every batch of every worker.
            self.session.execute(
                update(S)
                .where(
                    S.id.in_(ok),
                    or_(
                        S.failing_since.is_not(None),
                        S.last_success_at.is_(None),
                        S.last_success_at < now - HEALTH_RESOLUTION,
                    ),
                )
                .values(last_success_at=now, failing_since=None),
                execution_options={"synchronize_session": False},
            )
        if healed:
            self.session.execute(
                update(S)
                .where(S.id.in_(healed), S.disabled_reason.is_not(None))
                .values(active=True, disabled_reason=None),
                execution_options={"synchronize_session": False},
            )
        if bad:
            self.session.execute(
                update(S)
                .where(
                    S.id.in_(bad),
                    or_(
                        S.failing_since.is_(None),
                        S.last_failure_at.is_(None),
                        S.last_failure_at < now - HEALTH_RESOLUTION,
                    ),
                )
                .values(last_failure_at=now, failing_since=func.coalesce(S.failing_since, now)),
                execution_options={"synchronize_session": False},
            )
        disabled: list[int] = []
        if gone:
            self.disable(gone, "the endpoint answered 410 Gone", now)
            disabled.extend(gone)
        if bad:
            cutoff = now - disable_after
            stale = list(
                self.session.scalars(
                    select(S.id).where(S.id.in_(bad), S.active.is_(True), S.failing_since <= cutoff)
                )
            )
            if stale:
                hours = disable_after.total_seconds() / 3600
                self.disable(stale, f"every delivery failed for {hours:g} h without a success", now)
                disabled.extend(stale)
        return RecordSummary(len(kept), disabled)

    def disable(self, sub_ids: Sequence[int], reason: str, now: datetime) -> None:
        """Switch subscriptions off (shown to admins) and fail their queued deliveries."""
        self.session.execute(
            update(S).where(S.id.in_(sub_ids)).values(active=False, disabled_reason=reason[:500]),
            execution_options={"synchronize_session": False},
        )
        self.session.execute(
            update(D)
            .where(D.subscription_id.in_(sub_ids), D.status == "pending", D.is_test.is_(False))
            .values(
                status="failed",
                last_error=f"not sent: the subscription was disabled ({reason})"[:1000],
                finished_at=now,
                locked_until=None,
                locked_by=None,
            ),
            execution_options={"synchronize_session": False},
        )

    def has_prunable(self, before: datetime) -> bool:
        """Whether :meth:`prune` would remove anything (a read: no write lock on SQLite)."""
        old = select(literal(1)).where(WebhookAttempt.started_at < before).limit(1)
        finished = select(literal(1)).where(D.status != "pending", D.finished_at < before).limit(1)
        return self.session.scalar(old) is not None or self.session.scalar(finished) is not None

    def prune(self, before: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` attempt rows started before ``before``, and finished deliveries
        older than that with no attempts left. Returns the number of attempts removed."""
        old = select(WebhookAttempt.id).where(WebhookAttempt.started_at < before).limit(limit)
        ids = list(self.session.scalars(old))
        if ids:
            self.session.execute(delete(WebhookAttempt).where(WebhookAttempt.id.in_(ids)))
        finished = (
            select(D.id)
            .where(
                D.status != "pending",
                D.finished_at < before,
                ~exists().where(WebhookAttempt.delivery_id == D.id),
            )
            .limit(limit)
        )
        done = list(self.session.scalars(finished))
        if done:
            self.session.execute(delete(D).where(D.id.in_(done)))
        return len(ids)

    # ---- delivery log --------------------------------------------------------------------------
    def deliveries(
        self,
        sub_ids: Sequence[int],
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int = 25,
    ) -> tuple[list[WebhookDelivery], int]:
        stmt = select(D).where(D.subscription_id.in_(sub_ids))
        if status is not None:
            stmt = stmt.where(D.status == status)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(D.id.desc()).offset(offset).limit(limit))
        return list(rows), total

    def delivery_by_uuid(self, uuid: str) -> WebhookDelivery | None:
        return self.session.scalar(select(D).where(D.uuid == uuid))

    def attempts_of(self, delivery_id: int) -> list[WebhookAttempt]:
        return list(
            self.session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.number, WebhookAttempt.id)
            )
        )

    def event_payload(self, event_id: int) -> dict[str, Any] | None:
        return self.session.scalar(select(Event.payload).where(Event.id == event_id))

    def failed_since(
        self, sub_ids: Sequence[int] | None, since: datetime, *, after_id: int = 0, limit: int = 500
    ) -> list[int]:
        """Ids of failed deliveries created at or after ``since`` (all subscriptions when
        ``sub_ids`` is None), in id order after ``after_id`` (keyset pages)."""
        stmt = select(D.id).where(D.status == "failed", D.created_at >= since, D.id > after_id)
        if sub_ids is not None:
            stmt = stmt.where(D.subscription_id.in_(sub_ids))
        return list(self.session.scalars(stmt.order_by(D.id).limit(limit)))

    def count_failed_since(self, sub_ids: Sequence[int] | None, since: datetime) -> int:
        stmt = select(func.count()).where(D.status == "failed", D.created_at >= since)
        if sub_ids is not None:
            stmt = stmt.where(D.subscription_id.in_(sub_ids))
        return self.session.scalar(stmt) or 0

    def requeue(self, delivery_ids: Sequence[int], now: datetime) -> int:
        """Make finished deliveries due now, as a new run (same uuid, attempts keep counting)."""
        if not delivery_ids:
            return 0
        result = self.session.execute(
            update(D)
            .where(D.id.in_(delivery_ids), D.status != "pending")
            .values(
                status="pending",
                retries=0,
                next_attempt_at=now,
                locked_until=None,
                locked_by=None,
                finished_at=None,
            ),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def queue_counts(self, sub_ids: Sequence[int]) -> dict[str, int]:
        if not sub_ids:
            return {}
        rows = self.session.execute(
            select(D.status, func.count()).where(D.subscription_id.in_(sub_ids)).group_by(D.status)
        )
        return {str(row[0]): int(row[1]) for row in rows}

    # ---- lookups for owners --------------------------------------------------------------------
    def workspace_by_id(self, workspace_id: int) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)

    def repositories_by_ids(self, ids: Iterable[int]) -> dict[int, Repository]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        return {
            r.id: r
            for r in self.session.scalars(select(Repository).where(Repository.id.in_(wanted)))
        }
