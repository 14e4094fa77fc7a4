"""Rules of the app platform: who sees what, client keys and secrets, install attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from appdock.connect.descriptor import parse_descriptor
from appdock.connect.service import ConnectService, installations_serving
from appdock.core import crypto
from appdock.core.errors import Conflict, Unauthorized
from appdock.core.scopes import Scope
from appdock.core.time import utc_now
from appdock.core.urls import Urls
from appdock.models import AppClientKey, Installation, User, Workspace
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import app_jwt, descriptor, make_installation

URLS = Urls("http://testserver")


def personal(db: Session, user: User) -> Workspace:
    ws = db.scalar(select(Workspace).where(Workspace.owner_user_id == user.id))
    assert ws is not None
    return ws


def keys(rows: list[Installation]) -> list[tuple[str, int]]:
    return [(r.app_key, r.workspace_id) for r in rows]


class TestInstallationsServing:
    @pytest.fixture
    def world(self, db: Session) -> dict[str, object]:
        alice, bob, carol = make_user(db, "alice"), make_user(db, "bob"), make_user(db, "carol")
        acme = make_team(db, "acme", alice, bob)
        other = make_team(db, "other", carol)
        return {"alice": alice, "bob": bob, "carol": carol, "acme": acme, "other": other}

    def test_an_app_on_the_owning_team_serves_every_viewer(
        self, db: Session, world: dict[str, object]
    ) -> None:
        acme = world["acme"]
        assert isinstance(acme, Workspace)
        make_installation(db, acme, key="team.app")
        for viewer in (world["alice"], world["bob"], world["carol"], None):
            viewer_id = viewer.id if isinstance(viewer, User) else None
            rows = installations_serving(db, workspace_id=acme.id, viewer_user_id=viewer_id)
            assert keys(rows) == [("team.app", acme.id)]

    def test_an_app_on_another_team_serves_nothing_here(
        self, db: Session, world: dict[str, object]
    ) -> None:
        acme, other = world["acme"], world["other"]
        assert isinstance(acme, Workspace)
        assert isinstance(other, Workspace)
        make_installation(db, other, key="other.app")
        assert installations_serving(db, workspace_id=acme.id, viewer_user_id=None) == []

    def test_a_personal_app_follows_its_user_only(
        self, db: Session, world: dict[str, object]
    ) -> None:
        alice, bob, acme = world["alice"], world["bob"], world["acme"]
        assert isinstance(alice, User)
        assert isinstance(bob, User)
        assert isinstance(acme, Workspace)
        mine = personal(db, alice)
        make_installation(db, mine, alice, key="personal.app")
        assert keys(installations_serving(db, workspace_id=acme.id, viewer_user_id=alice.id)) == [
            ("personal.app", mine.id)
        ]
        assert installations_serving(db, workspace_id=acme.id, viewer_user_id=bob.id) == []
        assert installations_serving(db, workspace_id=acme.id, viewer_user_id=None) == []

    def test_an_app_on_a_personal_account_serves_that_accounts_repositories(
        self, db: Session, world: dict[str, object]
    ) -> None:
        alice, bob = world["alice"], world["bob"]
        assert isinstance(alice, User)
        assert isinstance(bob, User)
        mine = personal(db, alice)
        make_installation(db, mine, alice, key="personal.app")
        rows = installations_serving(db, workspace_id=mine.id, viewer_user_id=bob.id)
        assert keys(rows) == [("personal.app", mine.id)]

    def test_the_owning_accounts_installation_wins_over_the_viewers(
        self, db: Session, world: dict[str, object]
    ) -> None:
        alice, acme = world["alice"], world["acme"]
        assert isinstance(alice, User)
        assert isinstance(acme, Workspace)
        make_installation(db, personal(db, alice), alice, key="both.app")
        make_installation(db, acme, alice, key="both.app")
        make_installation(db, acme, alice, key="another.app")
        rows = installations_serving(db, workspace_id=acme.id, viewer_user_id=alice.id)
        assert keys(rows) == [("another.app", acme.id), ("both.app", acme.id)]

    def test_removed_from_the_team_it_is_gone_for_every_member(
        self, db: Session, world: dict[str, object]
    ) -> None:
        acme, bob = world["acme"], world["bob"]
        assert isinstance(acme, Workspace)
        assert isinstance(bob, User)
        inst, _ = make_installation(db, acme, key="team.app")
        ConnectService(db, SECRET, URLS).uninstall(inst)
        db.commit()
        assert installations_serving(db, workspace_id=acme.id, viewer_user_id=bob.id) == []


class TestInstallAttempts:
    @pytest.fixture
    def setup(self, db: Session) -> tuple[ConnectService, Workspace, User]:
        alice = make_user(db, "alice")
        acme = make_team(db, "acme", alice)
        return ConnectService(db, SECRET, URLS), acme, alice

    def test_client_key_is_stable_and_secret_is_fresh(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        d = parse_descriptor(descriptor())
        first = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        svc.finish_install(first)
        second = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        assert second.client_key == first.client_key
        assert second.new_secret != first.new_secret
        assert second.sign_secret == first.new_secret
        assert first.sign_secret is None
        assert second.reinstall
        assert not first.reinstall

    def test_a_second_attempt_while_one_is_in_flight_is_a_conflict(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        d = parse_descriptor(descriptor())
        svc.begin_install(d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id)
        with pytest.raises(Conflict, match="already in progress"):
            svc.begin_install(
                d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
            )

    def test_the_new_secret_authenticates_during_the_callback(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        d = parse_descriptor(descriptor(scopes=["account"]))
        plan = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        token = app_jwt(app_key=d.key, client_key=plan.client_key, secret=plan.new_secret)
        subject = svc.authenticate_app_jwt(token, ["GET&/2.0/workspaces&"])
        assert subject.kind == "installation"
        assert subject.installation_id is None
        assert subject.workspace_id == acme.id
        assert subject.scopes == {Scope.ACCOUNT}

    def test_an_expired_attempt_authenticates_nothing_and_blocks_nothing(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        d = parse_descriptor(descriptor())
        plan = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        record = db.scalar(select(AppClientKey))
        assert record is not None
        record.attempt_expires_at = utc_now() - timedelta(seconds=1)
        db.flush()
        token = app_jwt(app_key=d.key, client_key=plan.client_key, secret=plan.new_secret)
        with pytest.raises(Unauthorized, match="unknown clientKey"):
            svc.authenticate_app_jwt(token, ["GET&/2.0/workspaces&"])
        again = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        assert again.client_key == plan.client_key

    def test_abandoning_a_first_attempt_leaves_no_trace(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        d = parse_descriptor(descriptor())
        plan = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        svc.abandon_install(plan)
        assert db.scalar(select(AppClientKey)) is None
        assert db.scalar(select(Installation)) is None

    def test_a_superseded_attempt_cannot_finish(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        d = parse_descriptor(descriptor())
        plan = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        record = db.scalar(select(AppClientKey))
        assert record is not None
        record.attempt_secret = crypto.encrypt(SECRET, "someone-else" * 4)
        db.flush()
        with pytest.raises(Conflict, match="superseded"):
            svc.finish_install(plan)

    def test_uninstall_keeps_the_secret_for_the_next_install(
        self, db: Session, setup: tuple[ConnectService, Workspace, User]
    ) -> None:
        svc, acme, alice = setup
        inst, secret = make_installation(db, acme, alice)
        plan = svc.uninstall(inst)
        assert plan.secret == secret
        assert plan.callback_url == "https://app.example.com/uninstalled"
        assert plan.body["eventType"] == "uninstalled"
        assert "sharedSecret" not in plan.body
        d = parse_descriptor(descriptor())
        again = svc.begin_install(
            d, descriptor(), descriptor_url=None, workspace=acme, user_id=alice.id
        )
        assert again.sign_secret == secret
        assert not again.reinstall
