from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import Event, WebhookDelivery, WebhookRoute, WebhookSubscription, Workspace
from appdock.webhook import fanout
from appdock.webhook.store import WebhookStore
from tests.factories.account import make_team, make_user
from tests.factories.webhook import make_hook, make_installation, make_repo, publish_event

BASE = "http://127.0.0.1:9/app"


def deliveries(db: Session) -> list[WebhookDelivery]:
    db.expire_all()
    return list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def targets(db: Session) -> set[int]:
    return {d.subscription_id for d in deliveries(db)}


class TestPlainWebhooks:
    def test_repository_hook_gets_its_repository_events_only(
        self, session: Session, settings: Settings
    ) -> None:
        owner = make_user(session)
        ws = make_team(session, "acme", owner)
        widget, gadget = make_repo(session, ws, "widget"), make_repo(session, ws, "gadget")
        hook = make_hook(session, settings, widget, "http://127.0.0.1:9/h")
        publish_event(session, "repo:push", ws, gadget)
        assert deliveries(session) == []
        event = publish_event(session, "repo:push", ws, widget)
        [d] = deliveries(session)
        assert (d.subscription_id, d.event_id, d.status) == (hook.id, event.id, "pending")

    def test_unsubscribed_event_is_not_delivered(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_hook(session, settings, repo, "http://127.0.0.1:9/h", events=["repo:push"])
        publish_event(session, "pullrequest:created", ws, repo)
        assert deliveries(session) == []

    def test_workspace_hook_gets_every_repository_of_the_workspace(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        other = make_team(session, "other", make_user(session))
        hook = make_hook(session, settings, ws, "http://127.0.0.1:9/h")
        publish_event(session, "repo:push", ws, make_repo(session, ws))
        publish_event(session, "repo:push", other, make_repo(session, other))
        assert [d.subscription_id for d in deliveries(session)] == [hook.id]

    def test_inactive_hook_gets_nothing(self, session: Session, settings: Settings) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_hook(session, settings, repo, "http://127.0.0.1:9/h", active=False)
        publish_event(session, "repo:push", ws, repo)
        assert deliveries(session) == []

    def test_rolled_back_event_leaves_no_delivery(
        self, session: Session, settings: Settings
    ) -> None:
        from appdock.event.service import publish

        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_hook(session, settings, repo, "http://127.0.0.1:9/h")
        publish(session, "repo:push", workspace_id=ws.id, repository_id=repo.id, payload={})
        assert len(deliveries(session)) == 1  # same transaction
        session.rollback()
        assert deliveries(session) == []


class TestConnectFanOut:
    def test_team_install_gets_its_workspace_events_within_scopes(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_installation(
            session,
            settings,
            ws,
            BASE,
            webhooks=[
                ("repo:push", "/push"),
                ("pullrequest:created", "/pr"),
                ("issue:created", "/i"),
            ],
            scopes="repository",
        )
        publish_event(session, "repo:push", ws, repo)
        publish_event(session, "pullrequest:created", ws, repo)  # needs pullrequest
        publish_event(session, "issue:created", ws, repo)  # needs issue
        assert [d.event_key for d in deliveries(session)] == ["repo:push"]

    def test_wildcard_is_filtered_by_scopes(self, session: Session, settings: Settings) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        make_installation(
            session, settings, ws, BASE, webhooks=[("*", "/all")], scopes="pullrequest"
        )
        for key in ("repo:push", "pullrequest:fulfilled", "issue:created"):
            publish_event(session, key, ws, repo)
        assert [d.event_key for d in deliveries(session)] == ["repo:push", "pullrequest:fulfilled"]

    def test_other_workspace_events_do_not_reach_a_team_install(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        other = make_team(session, "other", make_user(session))
        make_installation(session, settings, ws, BASE, webhooks=[("*", "/all")])
        publish_event(session, "repo:push", other, make_repo(session, other, private=False))
        assert deliveries(session) == []

    def test_user_install_follows_the_user_to_reachable_repositories(
        self, session: Session, settings: Settings
    ) -> None:
        alice = make_user(session, "alice")
        bob = make_user(session, "bob")
        alice_ws = session.scalar(select(Workspace).where(Workspace.slug == "alice"))
        assert alice_ws is not None
        team = make_team(session, "acme", bob, alice)  # alice is a member
        private_team_repo = make_repo(session, team)
        closed = make_team(session, "closed", bob)  # alice is not a member
        closed_private = make_repo(session, closed)
        closed_public = make_repo(session, closed, private=False)
        make_installation(
            session,
            settings,
            alice_ws,
            BASE,
            webhooks=[("repo:push", "/p")],
            owner_user_id=alice.id,
        )
        publish_event(session, "repo:push", team, private_team_repo)
        publish_event(session, "repo:push", closed, closed_private)
        publish_event(session, "repo:push", closed, closed_public)
        reached = [d.event_id for d in deliveries(session)]
        assert len(reached) == 2
        events = {e.id: e.repository_id for e in session.scalars(select(Event))}
        assert {events[i] for i in reached} == {private_team_repo.id, closed_public.id}

    def test_owning_account_install_wins_over_a_user_install_of_the_same_app(
        self, session: Session, settings: Settings
    ) -> None:
        alice = make_user(session, "alice")
        alice_ws = session.scalar(select(Workspace).where(Workspace.slug == "alice"))
        assert alice_ws is not None
        team = make_team(session, "acme", alice)
        repo = make_repo(session, team)
        make_installation(session, settings, team, BASE, webhooks=[("repo:push", "/team")])
        make_installation(
            session,
            settings,
            alice_ws,
            BASE,
            webhooks=[("repo:push", "/user")],
            owner_user_id=alice.id,
        )
        publish_event(session, "repo:push", team, repo)
        [d] = deliveries(session)
        sub = session.get(WebhookSubscription, d.subscription_id)
        assert sub is not None and sub.url == BASE + "/team"

    def test_uninstall_drops_queued_deliveries(self, session: Session, settings: Settings) -> None:
        ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, ws)
        target = make_installation(session, settings, ws, BASE, webhooks=[("repo:push", "/p")])
        publish_event(session, "repo:push", ws, repo)
        assert len(deliveries(session)) == 1
        fanout.remove_connect_target(session, target.installation_id)
        session.commit()
        assert deliveries(session) == []
        assert session.scalar(select(func.count()).select_from(WebhookRoute)) == 0

    def test_resync_keeps_subscription_identity_and_rewrites_routes(
        self, session: Session, settings: Settings
    ) -> None:
        ws = make_team(session, "acme", make_user(session))
        target = make_installation(session, settings, ws, BASE, webhooks=[("repo:push", "/p")])
        [before] = WebhookStore(session).subscriptions_of_installation(target.installation_id)
        changed = fanout.ConnectTarget(
            **{**target.__dict__, "webhooks": (fanout.WebhookModule("repo:fork", "/p"),)}
        )
        fanout.sync_connect_target(session, settings.secret, changed)
        session.commit()
        [after] = WebhookStore(session).subscriptions_of_installation(target.installation_id)
        assert after.uuid == before.uuid
        assert WebhookStore(session).routes_of(after.id) == [("workspace", ws.id, "repo:fork")]


class TestRouteIndex:
    def test_finding_subscribers_reads_only_matching_routes(
        self, session: Session, settings: Settings
    ) -> None:
        """With many installations on other workspaces, an event's lookup returns only its own
        (the query plan is an index range; here we check the result set is independent)."""
        target_ws = make_team(session, "acme", make_user(session))
        repo = make_repo(session, target_ws)
        others = [make_team(session, f"team{i}", make_user(session)) for i in range(30)]
        for i, ws in enumerate(others):
            make_installation(
                session, settings, ws, BASE, webhooks=[("*", "/x")], installation_id=5000 + i
            )
        mine = make_installation(session, settings, target_ws, BASE, webhooks=[("repo:push", "/x")])
        subs = WebhookStore(session).matching_subscriptions(
            "repo:push", workspace_id=target_ws.id, repository_id=repo.id
        )
        mine_ids = [
            s.id for s in WebhookStore(session).subscriptions_of_installation(mine.installation_id)
        ]
        assert [s.id for s in subs] == mine_ids

    def test_lookup_uses_the_route_index_on_postgresql_and_sqlite(
        self, session: Session, settings: Settings
    ) -> None:
        from sqlalchemy import text

        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            plan = session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT subscription_id FROM webhook_routes "
                    "WHERE scope_kind='workspace' AND event_key IN ('repo:push','*') AND scope_id=1"
                )
            ).all()
            assert "ix_webhook_routes_lookup" in " ".join(str(r) for r in plan)
        else:
            session.execute(text("SET enable_seqscan = off"))
            plan = session.execute(
                text(
                    "EXPLAIN SELECT subscription_id FROM webhook_routes "
                    "WHERE scope_kind='workspace' AND event_key IN ('repo:push','*') AND scope_id=1"
                )
            ).all()
            assert "ix_webhook_routes_lookup" in " ".join(str(r) for r in plan)


class TestInstallationRows:
    def test_target_of_a_personal_installation_is_a_user_install(
        self, session: Session, settings: Settings
    ) -> None:
        from dataclasses import dataclass
        from typing import Any

        from appdock.core import crypto
        from appdock.webhook.installations import target_of

        @dataclass
        class Row:
            id: int
            app_key: str
            client_key: str
            shared_secret: str
            base_url: str
            scopes: str
            workspace_id: int
            descriptor: dict[str, Any]

        alice = make_user(session, "alice")
        personal = session.scalar(select(Workspace).where(Workspace.slug == "alice"))
        assert personal is not None
        secret = crypto.encrypt(settings.secret, "s" * 40)
        row = Row(
            7,
            "app",
            "ck",
            secret,
            BASE,
            "pullrequest",
            personal.id,
            {"modules": {"webhooks": [{"event": "repo:push", "url": "/p"}, {"bad": 1}]}},
        )
        target = target_of(row, personal)
        assert target.owner_user_id == alice.id
        assert [(m.event, m.url) for m in target.webhooks] == [("repo:push", "/p")]
        [sub] = fanout.sync_connect_target(session, settings.secret, target)
        session.commit()
        assert sub.secret == secret and sub.url == BASE + "/p"
        assert WebhookStore(session).routes_of(sub.id) == [("user", alice.id, "repo:push")]
