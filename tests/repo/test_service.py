"""Repository rules: creation on disk, deletion after commit, rename, fork, permissions, refs made
by the host, build statuses, and the events each publishes."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appdock.config import Settings
from appdock.core.errors import BadRequest, Forbidden, NotFound
from appdock.core.scopes import Scope
from appdock.core.subject import AuthSubject
from appdock.git import GitError, GitRepo
from appdock.models import CommitStatus, Event, Repository
from appdock.repo.service import Permission, RepoService, permission_of
from tests.factories.account import make_team, make_user
from tests.factories.repo import (
    commit_files,
    make_repo,
    repo_dir,
    seed_history,
    subject_of,
)


def events(db: Session, key: str | None = None) -> list[Event]:
    db.rollback()  # end the read snapshot so commits by other sessions show
    stmt = select(Event).order_by(Event.id)
    if key:
        stmt = stmt.where(Event.key == key)
    return list(db.scalars(stmt))


class TestCreate:
    def test_creates_row_bare_repository_hook_and_event(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice, "widget", description="A widget")
        path = repo_dir(settings, ctx.repo)
        assert path.name == ctx.repo.uuid.strip("{}").replace("-", "") + ".git"
        assert GitRepo(path).is_empty()
        assert (path / "hooks" / "post-receive").stat().st_mode & 0o111
        assert ctx.project is not None and ctx.project.key == "PROJ"
        (event,) = events(db, "repo:created")
        assert event.repository_id == ctx.repo.id and event.actor_user_id == alice.id
        assert event.payload["repository"]["full_name"] == "alice/widget"
        assert event.payload["actor"]["uuid"] == alice.uuid

    def test_duplicate_slug_is_400_and_leaves_one_directory(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        make_repo(db, settings, alice, "widget")
        with pytest.raises(BadRequest) as err:
            make_repo(db, settings, alice, "widget")
        assert err.value.field == "slug" and "already exists" in err.value.message
        db.rollback()
        assert len(list(settings.repos_dir.iterdir())) == 1

    @pytest.mark.parametrize(
        "slug", ["Bad Slug", "UPPER", "-dash", "x.git", "a/b", "", "workspace"]
    )
    def test_invalid_or_reserved_slug_is_400_naming_it(
        self, db: Session, settings: Settings, slug: str
    ) -> None:
        alice = make_user(db, "alice")
        with pytest.raises(BadRequest) as err:
            make_repo(db, settings, alice, slug)
        assert err.value.field == "slug"
        assert not settings.repos_dir.exists() or not any(settings.repos_dir.iterdir())

    def test_failure_on_disk_leaves_neither_row_nor_directory(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        with (
            mock.patch.object(GitRepo, "install_hook", side_effect=GitError("disk full")),
            pytest.raises(BadRequest, match="could not be created on disk"),
        ):
            make_repo(db, settings, alice, "widget")
        db.rollback()
        assert db.scalar(select(func.count(Repository.id))) == 0
        assert not any(settings.repos_dir.iterdir())

    def test_rollback_after_creation_removes_the_directory(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        svc = RepoService(db, settings)
        ctx = svc.create(subject_of(alice), svc.workspace("alice"), "widget")
        path = repo_dir(settings, ctx.repo)
        assert path.exists()
        db.rollback()  # e.g. the request failed later, or the commit failed
        assert not path.exists()
        assert db.scalar(select(func.count(Repository.id))) == 0

    def test_savepoint_rollback_removes_the_directory(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        svc = RepoService(db, settings)
        paths: list[Path] = []

        def create_then_fail() -> None:
            with db.begin_nested():
                ctx = svc.create(subject_of(alice), svc.workspace("alice"), "widget")
                paths.append(repo_dir(settings, ctx.repo))
                raise RuntimeError("later step failed")

        with pytest.raises(RuntimeError):
            create_then_fail()
        assert paths and not paths[0].exists()

    def test_outsider_cannot_create_in_a_team(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        mallory = make_user(db, "mallory")
        make_team(db, "acme", alice)
        svc = RepoService(db, settings)
        with pytest.raises(NotFound):
            svc.create(subject_of(mallory), svc.workspace("acme"), "x")

    def test_unknown_project_is_400_naming_it(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        with pytest.raises(BadRequest) as err:
            make_repo(db, settings, alice, "widget", project_key="NOPE")
        assert err.value.field == "project.key"


class TestDelete:
    def test_directory_goes_only_after_commit(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        path = repo_dir(settings, ctx.repo)
        svc = RepoService(db, settings)
        svc.delete(subject_of(alice), svc.get("alice", "widget", subject_of(alice)))
        assert not path.exists()
        trash = list((settings.data_dir / "trash").iterdir())
        assert len(trash) == 1  # moved aside, not gone yet
        db.commit()
        assert not any((settings.data_dir / "trash").iterdir())
        (event,) = events(db, "repo:deleted")
        assert event.payload["repository"]["full_name"] == "alice/widget"

    def test_rollback_restores_the_directory(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        seed_history(db, settings, ctx)
        path = repo_dir(settings, ctx.repo)
        svc = RepoService(db, settings)
        svc.delete(subject_of(alice), svc.get("alice", "widget", subject_of(alice)))
        db.rollback()
        assert GitRepo(path).resolve("main") is not None
        assert db.scalar(select(func.count(Repository.id))) == 1

    def test_member_without_admin_cannot_delete(self, db: Session, settings: Settings) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        acme = make_team(db, "acme", alice, bob)
        make_repo(db, settings, alice, workspace=acme)
        svc = RepoService(db, settings)
        ctx = svc.get("acme", "widget", subject_of(bob))
        with pytest.raises(Forbidden, match="needs admin"):
            svc.delete(subject_of(bob), ctx)


class TestUpdate:
    def test_rename_keeps_disk_location_and_publishes_changes(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        before = repo_dir(settings, ctx.repo)
        svc = RepoService(db, settings)
        new = svc.update(subject_of(alice), ctx, slug="gadget", name="Gadget", description="d")
        db.commit()
        assert new.full_name == "alice/gadget" and repo_dir(settings, new.repo) == before
        (event,) = events(db, "repo:updated")
        changes = event.payload["changes"]
        assert changes["name"] == {"old": "widget", "new": "Gadget"}
        assert changes["full_name"] == {"old": "alice/widget", "new": "alice/gadget"}
        assert changes["links"]["new"]["html"]["href"].endswith("/alice/gadget")

    def test_no_change_publishes_nothing(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        RepoService(db, settings).update(subject_of(alice), ctx, name=ctx.repo.name)
        db.commit()
        assert events(db, "repo:updated") == []

    def test_rename_onto_existing_slug_is_400(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice, "a")
        make_repo(db, settings, alice, "b")
        with pytest.raises(BadRequest) as err:
            RepoService(db, settings).update(subject_of(alice), ctx, slug="b")
        assert err.value.field == "slug"


class TestFork:
    def test_fork_copies_history_and_publishes_fork_and_created(
        self, db: Session, settings: Settings
    ) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        source = make_repo(db, settings, alice, private=False)
        hashes = seed_history(db, settings, source)
        svc = RepoService(db, settings)
        fork = svc.fork(subject_of(bob), svc.get("alice", "widget", subject_of(bob)))
        db.commit()
        assert fork.full_name == "bob/widget" and fork.repo.fork_of_id == source.repo.id
        assert fork.repo.mainbranch == "main"
        git = GitRepo(repo_dir(settings, fork.repo))
        assert git.resolve("main") == hashes[-1] and git.head_branch() == "main"
        (event,) = events(db, "repo:fork")
        assert event.repository_id == source.repo.id
        assert event.payload["fork"]["full_name"] == "bob/widget"
        assert event.payload["repository"]["full_name"] == "alice/widget"
        assert [e.repository_id for e in events(db, "repo:created")][-1] == fork.repo.id

    def test_no_forks_policy_is_refused(self, db: Session, settings: Settings) -> None:
        alice, bob = make_user(db, "alice"), make_user(db, "bob")
        make_repo(db, settings, alice, private=False, fork_policy="no_forks")
        svc = RepoService(db, settings)
        with pytest.raises(Forbidden, match="does not allow forks"):
            svc.fork(subject_of(bob), svc.get("alice", "widget", subject_of(bob)))

    def test_fork_of_private_repository_stays_private(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        acme = make_team(db, "acme", alice)
        make_repo(db, settings, alice, workspace=acme)
        svc = RepoService(db, settings)
        with pytest.raises(BadRequest) as err:
            svc.fork(
                subject_of(alice), svc.get("acme", "widget", subject_of(alice)), is_private=False
            )
        assert err.value.field == "is_private"


class TestPermissions:
    @pytest.fixture
    def world(self, db: Session, settings: Settings) -> dict[str, object]:
        alice, bob, admin2, mallory = (make_user(db, n) for n in ("alice", "bob", "ann", "mal"))
        acme = make_team(db, "acme", alice, bob)
        from appdock.account.service import AccountService

        AccountService(db, settings.secret).add_member(acme, admin2, "admin")
        db.commit()
        private = make_repo(db, settings, alice, "secret", workspace=acme)
        public = make_repo(db, settings, alice, "open", workspace=acme, private=False)
        return {
            "alice": alice,
            "bob": bob,
            "ann": admin2,
            "mal": mallory,
            "acme": acme,
            "private": private.repo,
            "public": public.repo,
        }

    @pytest.mark.parametrize(
        ("who", "repo", "expected"),
        [
            ("anon", "private", Permission.NONE),
            ("anon", "public", Permission.READ),
            ("mal", "private", Permission.NONE),
            ("mal", "public", Permission.READ),
            ("bob", "private", Permission.WRITE),
            ("bob", "public", Permission.WRITE),
            ("ann", "private", Permission.ADMIN),
            ("alice", "private", Permission.ADMIN),
            ("team-app", "private", Permission.ADMIN),
            ("other-app", "private", Permission.NONE),
        ],
    )
    def test_levels(
        self, db: Session, world: dict[str, object], who: str, repo: str, expected: Permission
    ) -> None:
        acme = world["acme"]
        if who == "anon":
            subject = AuthSubject.anonymous()
        elif who == "team-app":
            subject = AuthSubject.limited(
                "installation", frozenset({Scope.REPOSITORY}), workspace_id=acme.id
            )  # type: ignore[attr-defined]
        elif who == "other-app":
            subject = AuthSubject.limited(
                "installation", frozenset({Scope.REPOSITORY}), workspace_id=acme.id + 999
            )  # type: ignore[attr-defined]
        else:
            subject = subject_of(world[who])  # type: ignore[arg-type]
        assert permission_of(db, subject, world[repo]) == expected  # type: ignore[arg-type]

    def test_missing_scope_is_403_before_hidden_404(
        self, db: Session, settings: Settings, world: dict[str, object]
    ) -> None:
        mal = world["mal"]
        subject = AuthSubject.limited("app_password", frozenset({Scope.ACCOUNT}), user_id=mal.id)  # type: ignore[attr-defined]
        with pytest.raises(Forbidden) as err:
            RepoService(db, settings).get("acme", "secret", subject)
        assert err.value.scope == "repository"

    def test_hidden_repository_is_404_never_403(
        self, db: Session, settings: Settings, world: dict[str, object]
    ) -> None:
        with pytest.raises(NotFound):
            RepoService(db, settings).get(
                "acme",
                "secret",
                subject_of(world["mal"]),  # type: ignore[arg-type]
                Permission.WRITE,
            )

    def test_read_only_caller_asking_to_write_is_403(
        self, db: Session, settings: Settings, world: dict[str, object]
    ) -> None:
        with pytest.raises(Forbidden, match="read access"):
            RepoService(db, settings).get(
                "acme",
                "open",
                subject_of(world["mal"]),  # type: ignore[arg-type]
                Permission.WRITE,
            )

    def test_readable_listing_matches_permission_of(
        self, db: Session, settings: Settings, world: dict[str, object]
    ) -> None:
        svc = RepoService(db, settings)
        for who in ("mal", "bob"):
            subject = subject_of(world[who])  # type: ignore[arg-type]
            rows, total = svc.list_repositories(subject, offset=0, limit=50)
            visible = {c.repo.slug for c in rows}
            for repo in (world["private"], world["public"]):
                expected = permission_of(db, subject, repo) is not Permission.NONE  # type: ignore[arg-type]
                assert (repo.slug in visible) == expected  # type: ignore[attr-defined]
            assert total == len(visible)


class TestRefsByTheHost:
    def test_create_and_delete_branch_publish_push_events(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        hashes = seed_history(db, settings, ctx)
        svc = RepoService(db, settings)
        ref = svc.create_branch(subject_of(alice), ctx, "feature/x", hashes[0])
        db.commit()
        assert ref.target == hashes[0]
        svc.delete_branch(subject_of(alice), ctx, "feature/x")
        db.commit()
        created, closed = events(db, "repo:push")
        change = created.payload["push"]["changes"][0]
        assert change["created"] and change["new"]["name"] == "feature/x" and change["old"] is None
        change = closed.payload["push"]["changes"][0]
        assert change["closed"] and change["new"] is None and change["old"]["name"] == "feature/x"
        assert not any((settings.data_dir / "spool" / "pushes").glob("*.json"))

    def test_invalid_name_existing_branch_and_main_branch_are_400(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        seed_history(db, settings, ctx)
        svc = RepoService(db, settings)
        with pytest.raises(BadRequest, match="not a valid branch name"):
            svc.create_branch(subject_of(alice), ctx, "bad..name", "main")
        with pytest.raises(BadRequest, match="already exists"):
            svc.create_branch(subject_of(alice), ctx, "main", "main")
        with pytest.raises(BadRequest) as err:
            svc.create_branch(subject_of(alice), ctx, "x", "nope")
        assert err.value.field == "target.hash"
        with pytest.raises(BadRequest, match="main branch"):
            svc.delete_branch(subject_of(alice), ctx, "main")

    def test_annotated_tag_records_tagger(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        seed_history(db, settings, ctx)
        ref = RepoService(db, settings).create_tag(subject_of(alice), ctx, "v1", "main", "Ship")
        db.commit()
        assert ref.tagger is not None and ref.tagger.email == "alice@example.test"
        (event,) = events(db, "repo:push")
        new = event.payload["push"]["changes"][0]["new"]
        assert new["type"] == "tag" and "Ship" in new["message"]


class TestStatuses:
    def test_same_key_updates_and_events_say_which(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        head = seed_history(db, settings, ctx)[-1]
        svc = RepoService(db, settings)
        row, created = svc.set_status(
            subject_of(alice),
            ctx,
            head[:10],
            key="ci",
            state="INPROGRESS",
            url="https://ci.example.test/1",
        )
        assert created and row.commit_hash == head
        row, created = svc.set_status(
            subject_of(alice),
            ctx,
            head,
            key="ci",
            state="SUCCESSFUL",
            url="https://ci.example.test/1",
        )
        db.commit()
        assert not created and row.state == "SUCCESSFUL"
        assert db.scalar(select(func.count(CommitStatus.id))) == 1
        keys = [e.key for e in events(db) if e.key.startswith("repo:commit_status")]
        assert keys == ["repo:commit_status_created", "repo:commit_status_updated"]
        payload = events(db, "repo:commit_status_updated")[0].payload
        assert payload["commit_status"]["state"] == "SUCCESSFUL"
        assert payload["commit_status"]["type"] == "build"

    def test_unknown_commit_is_404_and_bad_state_400(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        seed_history(db, settings, ctx)
        svc = RepoService(db, settings)
        with pytest.raises(NotFound):
            svc.set_status(subject_of(alice), ctx, "f" * 40, key="k", state="FAILED", url="u")
        with pytest.raises(BadRequest) as err:
            svc.set_status(subject_of(alice), ctx, "main", key="k", state="DONE", url="u")
        assert err.value.field == "state"

    def test_commit_files_helper_is_independent_of_hooks(
        self, db: Session, settings: Settings
    ) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        commit_files(settings, ctx.repo, {"a": "1"})
        assert events(db, "repo:push") == []


class TestMoveRef:
    def test_merge_then_move_publishes_one_push(self, db: Session, settings: Settings) -> None:
        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        hashes = seed_history(db, settings, ctx)
        feature = commit_files(
            settings, ctx.repo, {"f.txt": "f"}, branch="feature", parent=hashes[0]
        )
        svc = RepoService(db, settings)
        git = svc.git(ctx.repo)
        with git.temporary_worktree(hashes[-1], svc.actor(subject_of(alice)).identity()) as wt:
            wt.run("merge", "--no-ff", "-q", "-m", "Merged in feature", feature)
            merged = wt.head()
        event = svc.move_ref(subject_of(alice), ctx, "refs/heads/main", merged, hashes[-1])
        db.commit()
        assert event is not None and git.resolve("main") == merged
        (change,) = event.payload["push"]["changes"]
        assert not change["forced"] and change["commits"][0]["hash"] == merged

    def test_a_racing_push_is_a_409_and_changes_nothing(
        self, db: Session, settings: Settings
    ) -> None:
        from appdock.core.errors import Conflict

        alice = make_user(db, "alice")
        ctx = make_repo(db, settings, alice)
        hashes = seed_history(db, settings, ctx)
        svc = RepoService(db, settings)
        raced = commit_files(settings, ctx.repo, {"r": "1"})  # someone pushed meanwhile
        with pytest.raises(Conflict, match="changed meanwhile"):
            svc.move_ref(subject_of(alice), ctx, "refs/heads/main", hashes[0], hashes[-1])
        db.rollback()
        assert svc.git(ctx.repo).resolve("main") == raced
        assert events(db, "repo:push") == []
        assert not any((settings.data_dir / "spool" / "pushes").glob("*.json"))
