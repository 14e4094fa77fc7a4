from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.models import User, WebhookDelivery, WebhookSubscription
from tests.factories.account import basic, make_app_password, make_team, make_user
from tests.factories.webhook import make_repo, publish_event

API = "/api/2.0"


def auth(
    db: Session, username: str, scopes: str = "webhook repository"
) -> tuple[User, dict[str, str]]:
    user = make_user(db, username)
    return user, basic(username, make_app_password(db, user, scopes))


class TestRepositoryHooks:
    def test_admin_creates_lists_updates_and_deletes(self, client: TestClient, db: Session) -> None:
        owner, headers = auth(db, "alice")
        ws = make_team(db, "acme", owner)
        make_repo(db, ws, "widget")
        r = client.post(
            f"{API}/repositories/acme/widget/hooks",
            headers=headers,
            json={
                "url": "https://ci.example.com/hook",
                "description": "CI",
                "events": ["repo:push", "pullrequest:created"],
                "active": True,
                "secret": "s3cret",
            },
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        assert hook["type"] == "webhook_subscription"
        assert hook["uuid"].startswith("{") and hook["secret_set"] is True
        assert "secret" not in hook
        assert hook["subject_type"] == "repository"
        assert hook["subject"]["full_name"] == "acme/widget"
        assert r.headers["Location"] == hook["links"]["self"]["href"]
        listed = client.get(f"{API}/repositories/acme/widget/hooks", headers=headers).json()
        assert [h["uuid"] for h in listed["values"]] == [hook["uuid"]]
        uid = hook["uuid"].strip("{}")
        r = client.put(
            f"{API}/repositories/acme/widget/hooks/{uid}",
            headers=headers,
            json={"active": False, "secret": None},
        )
        assert r.status_code == 200
        assert r.json()["active"] is False and r.json()["secret_set"] is False
        assert r.json()["events"] == ["pullrequest:created", "repo:push"]
        r = client.delete(f"{API}/repositories/acme/widget/hooks/{uid}", headers=headers)
        assert r.status_code == 204
        assert (
            client.get(f"{API}/repositories/acme/widget/hooks/{uid}", headers=headers).status_code
            == 404
        )

    def test_missing_webhook_scope_is_403_naming_it(self, client: TestClient, db: Session) -> None:
        _, headers = auth(db, "alice", "repository")
        r = client.get(f"{API}/repositories/alice/x/hooks", headers=headers)
        assert r.status_code == 403
        assert "webhook" in r.text

    def test_member_who_is_not_admin_is_refused(self, client: TestClient, db: Session) -> None:
        owner = make_user(db, "owner")
        bob, headers = auth(db, "bob")
        ws = make_team(db, "acme", owner, bob)
        make_repo(db, ws, "widget")
        r = client.get(f"{API}/repositories/acme/widget/hooks", headers=headers)
        assert r.status_code == 403

    def test_hidden_repository_is_404(self, client: TestClient, db: Session) -> None:
        ws = make_team(db, "acme", make_user(db, "owner"))
        make_repo(db, ws, "secret")
        _, headers = auth(db, "mallory")
        r = client.get(f"{API}/repositories/acme/secret/hooks", headers=headers)
        assert r.status_code == 404

    def test_bad_event_and_private_url_are_named(self, client: TestClient, db: Session) -> None:
        owner, headers = auth(db, "alice")
        make_repo(db, make_team(db, "acme", owner), "widget")
        r = client.post(
            f"{API}/repositories/acme/widget/hooks",
            headers=headers,
            json={"url": "https://x.example/h", "events": ["repo:nonsense"]},
        )
        assert r.status_code == 400 and "repo:nonsense" in r.text
        r = client.post(
            f"{API}/repositories/acme/widget/hooks",
            headers=headers,
            json={"url": "http://10.0.0.5/h", "events": ["repo:push"]},
        )
        assert r.status_code == 400 and "private address" in r.text
        assert db.scalar(select(WebhookSubscription.id)) is None  # nothing half-written


class TestWorkspaceHooksAndLog:
    def test_delivery_log_redeliver_and_test_event(
        self, client: TestClient, db: Session, settings: Settings
    ) -> None:
        from appdock import subscribers

        subscribers.register()
        owner, headers = auth(db, "alice")
        ws = make_team(db, "acme", owner)
        repo = make_repo(db, ws, "widget")
        r = client.post(
            f"{API}/workspaces/acme/hooks",
            headers=headers,
            json={"url": "https://ci.example.com/h", "events": ["repo:push"]},
        )
        assert r.status_code == 201
        uid = r.json()["uuid"]
        publish_event(db, "repo:push", ws, repo, {"push": {"changes": []}})
        delivery = db.scalar(select(WebhookDelivery))
        assert delivery is not None
        delivery.status = "failed"
        delivery.attempts = 3
        db.commit()
        log = client.get(f"{API}/workspaces/acme/hooks/{uid}/deliveries", headers=headers).json()
        assert [d["uuid"] for d in log["values"]] == [delivery.uuid]
        detail = client.get(
            f"{API}/workspaces/acme/hooks/{uid}/deliveries/{delivery.uuid}", headers=headers
        ).json()
        assert detail["request_body"] == '{"push":{"changes":[]}}'
        r = client.post(
            f"{API}/workspaces/acme/hooks/{uid}/deliveries/{delivery.uuid}/redeliver",
            headers=headers,
        )
        assert r.status_code == 200 and r.json()["status"] == "pending"
        assert r.json()["uuid"] == delivery.uuid  # same webhook-id
        db.expire_all()
        row = db.get(WebhookDelivery, delivery.id)
        assert row is not None and row.status == "pending" and row.retries == 0
        row.status = "failed"
        db.commit()
        r = client.post(
            f"{API}/workspaces/acme/hooks/{uid}/redeliver",
            headers=headers,
            json={"since": "2000-01-01T00:00:00Z"},
        )
        assert r.json()["count"] == 1
        r = client.post(f"{API}/workspaces/acme/hooks/{uid}/test", headers=headers)
        assert r.status_code == 202 and r.json()["is_test"] is True
        db.commit()


class TestHookEvents:
    def test_catalogue_is_public(self, client: TestClient) -> None:
        r = client.get(f"{API}/hook_events/repository?pagelen=100")
        assert r.status_code == 200
        events = {e["event"] for e in r.json()["values"]}
        assert {"repo:push", "pullrequest:fulfilled", "issue:created"} <= events
        assert client.get(f"{API}/hook_events/bogus").status_code == 404
