"""UiModuleService: which installations serve a page, and the per-installation module cache."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from appdock.account.store import AccountStore
from appdock.connect.ui.service import ModuleCache, UiModuleService
from appdock.core.scopes import Scope
from appdock.models import Installation
from tests.connect.ui.pages_helpers import ui_descriptor
from tests.factories.account import SECRET, make_team, make_user
from tests.factories.connect import make_installation


class TestServing:
    def test_team_install_serves_its_repositories_for_every_viewer(self, db: Session) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        acme = make_team(db, "acme", alice)
        make_installation(db, acme, alice, raw=ui_descriptor())
        svc = UiModuleService(db, SECRET, ModuleCache())
        for viewer in (alice.id, bob.id, None):
            apps = svc.for_repository(workspace_id=acme.id, viewer_user_id=viewer)
            assert [a.app_key for a in apps] == ["com.example.app"]
        keys = {m.module_key for m in apps[0].modules}
        assert keys == {"dashboard", "repo-panel", "pr-panel"}
        assert Scope.REPOSITORY in apps[0].modules[0].scopes

    def test_personal_install_serves_only_its_user(self, db: Session) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        acme = make_team(db, "acme", alice, bob)
        personal = AccountStore(db).personal_workspace(bob.id)
        assert personal is not None
        make_installation(
            db, personal, bob, key="com.example.mine", raw=ui_descriptor("com.example.mine")
        )
        svc = UiModuleService(db, SECRET, ModuleCache())
        assert svc.for_repository(workspace_id=acme.id, viewer_user_id=alice.id) == []
        mine = svc.for_repository(workspace_id=acme.id, viewer_user_id=bob.id)
        assert [a.app_key for a in mine] == ["com.example.mine"]

    def test_another_team_is_not_served(self, db: Session) -> None:
        alice = make_user(db, "alice")
        acme, globex = make_team(db, "acme", alice), make_team(db, "globex", alice)
        make_installation(db, acme, alice, raw=ui_descriptor())
        svc = UiModuleService(db, SECRET, ModuleCache())
        assert svc.for_repository(workspace_id=globex.id, viewer_user_id=alice.id) == []
        assert svc.for_account(globex.id) == []
        assert [a.app_key for a in svc.for_account(acme.id)] == ["com.example.app"]


class TestCache:
    def test_parsed_once_then_again_after_an_update(self, db: Session) -> None:
        alice = make_user(db, "alice")
        acme = make_team(db, "acme", alice)
        inst, _ = make_installation(db, acme, alice, raw=ui_descriptor())
        cache = ModuleCache()
        svc = UiModuleService(db, SECRET, cache)
        first = svc.for_account(acme.id)
        assert svc.for_account(acme.id)[0] is first[0]
        assert cache.parsed == 1
        row = db.get(Installation, inst.id)
        assert row is not None
        raw = ui_descriptor(webPanels=[], repoPages=[])
        row.descriptor = raw
        row.updated_at = row.updated_at + timedelta(seconds=1)
        db.commit()
        again = svc.for_account(acme.id)
        assert cache.parsed == 2
        assert again[0].modules == ()

    def test_reinstall_with_a_new_secret_is_parsed_again(self, db: Session) -> None:
        alice = make_user(db, "alice")
        acme = make_team(db, "acme", alice)
        inst, _ = make_installation(db, acme, alice, raw=ui_descriptor())
        cache = ModuleCache()
        svc = UiModuleService(db, SECRET, cache)
        before = svc.for_account(acme.id)[0].modules[0].shared_secret
        row = db.get(Installation, inst.id)
        assert row is not None
        from appdock.core import crypto

        row.shared_secret = crypto.encrypt(SECRET, "a-new-secret")
        db.commit()
        after = svc.for_account(acme.id)[0].modules[0].shared_secret
        assert before != after == "a-new-secret"

    def test_linkers_are_read_with_absolute_urls(self, db: Session) -> None:
        alice = make_user(db, "alice")
        acme = make_team(db, "acme", alice)
        linkers = [{"key": "jira", "regex": "PROJ-(\\d+)", "url": "/issue/\\1", "type": "href"}]
        make_installation(db, acme, alice, raw=ui_descriptor(linkers=linkers))
        [app] = UiModuleService(db, SECRET, ModuleCache()).for_account(acme.id)
        [linker] = app.linkers
        assert linker.url == "https://app.example.com/issue/\\1"
        assert linker.regex == "PROJ-(\\d+)"
