from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import WebhookDelivery, WebhookSubscription
from tests.factories.account import PASSWORD, make_team, make_user
from tests.factories.webhook import make_hook, make_installation, make_repo, publish_event
from tests.web_helpers import login, post_form


class TestRepositoryWebhookPages:
    def test_admin_adds_a_webhook_and_sends_a_test_event(
        self, client: TestClient, db: Session
    ) -> None:
        alice = make_user(db, "alice")
        make_repo(db, make_team(db, "acme", alice), "widget")
        login(client, "alice", PASSWORD)
        page = client.get("/acme/widget/admin/webhooks")
        assert page.status_code == 200 and "Add a webhook" in page.text
        assert 'href="/acme/widget/admin/webhooks"' in page.text  # the sidebar entry
        r = post_form(
            client,
            "/acme/widget/admin/webhooks",
            "/acme/widget/admin/webhooks",
            {
                "url": "https://ci.example.com/h",
                "description": "CI",
                "events": "repo:push",
                "active": "on",
            },
        )
        assert r.status_code == 303  # type: ignore[attr-defined]
        hook_url = r.headers["location"]  # type: ignore[attr-defined]
        sub = db.scalar(select(WebhookSubscription))
        assert sub is not None and sub.events == ["repo:push"] and sub.description == "CI"
        r = post_form(
            client, hook_url, hook_url + "/action", {"action": "test", "event": "repo:push"}
        )
        assert r.status_code == 303  # type: ignore[attr-defined]
        db.rollback()  # a fresh snapshot
        delivery = db.scalar(select(WebhookDelivery))
        assert delivery is not None and delivery.is_test
        page = client.get(hook_url)
        assert "repo:push" in page.text and "test" in page.text
        detail = client.get(f"{hook_url}/deliveries/{delivery.uuid.strip('{}')}")
        assert detail.status_code == 200 and delivery.uuid in detail.text

    def test_member_without_admin_cannot_see_the_pages(
        self, client: TestClient, db: Session
    ) -> None:
        owner = make_user(db, "owner")
        bob = make_user(db, "bob")
        make_repo(db, make_team(db, "acme", owner, bob), "widget")
        login(client, "bob", PASSWORD)
        assert client.get("/acme/widget/admin/webhooks").status_code == 403


class TestWorkspaceWebhookPages:
    def test_admin_sees_disabled_hook_and_app_delivery_log(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        from appdock import subscribers

        subscribers.register()
        alice = make_user(db, "alice")
        ws = make_team(db, "acme", alice)
        repo = make_repo(db, ws)
        hook = make_hook(db, settings, ws, "https://ci.example.com/h")
        hook.active = False
        hook.disabled_reason = "every delivery failed for 24 h without a success"
        db.commit()
        target = make_installation(
            db, settings, ws, "https://app.example.com", webhooks=[("repo:push", "/p")]
        )
        publish_event(db, "repo:push", ws, repo)
        login(client, "alice", PASSWORD)
        page = client.get("/acme/workspace/settings/webhooks")
        assert page.status_code == 200
        assert "every delivery failed for 24 h" in page.text
        assert "com.example.app" in page.text
        app_sub = db.scalar(
            select(WebhookSubscription).where(WebhookSubscription.kind == "connect")
        )
        assert app_sub is not None
        log = client.get(
            f"/acme/workspace/settings/webhooks/apps/{target.installation_id}/{app_sub.uuid.strip('{}')}"
        )
        assert log.status_code == 200 and "repo:push" in log.text
        assert "Delete this webhook" not in log.text  # an app's webhook follows its installation
