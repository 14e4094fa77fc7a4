"""The merge plumbing: three-way merges without a working tree, quarantined objects, fetching a
fork's branch, hidden refs."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from appdock.git import (
    GitRepo,
    Identity,
    MergeFailed,
    commit_tree,
    fetch_ref,
    hide_refs,
    merge_trees,
    quarantine,
    tree_of,
)

ME = Identity("Merge Bot", "bot@example.test")


def _commit(git: GitRepo, parent: str | None, files: dict[str, str], message: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if parent:
            git.run("read-tree", parent, env=env)
        for path, text in files.items():
            oid = git.run("hash-object", "-w", "--stdin", input=text.encode()).stdout.decode()
            git.run("update-index", "--add", "--cacheinfo", f"100644,{oid.strip()},{path}", env=env)
        tree = git.run("write-tree", env=env).stdout.decode().strip()
    return commit_tree(git, tree, [parent] if parent else [], message, ME, ME)


def _objects(git: GitRepo) -> set[str]:
    """Every file under objects/ (loose objects and packs), to prove nothing was written."""
    root = git.path / "objects"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.init_bare(tmp_path / "r.git")


@pytest.fixture
def diverged(repo: GitRepo) -> tuple[GitRepo, str, str, str]:
    """base → ours (changes a.txt) and base → theirs (adds b.txt): mergeable."""
    base = _commit(repo, None, {"a.txt": "one\ntwo\nthree\n"}, "base")
    ours = _commit(repo, base, {"a.txt": "one\nTWO\nthree\n"}, "ours")
    theirs = _commit(repo, base, {"b.txt": "new\n"}, "theirs")
    return repo, base, ours, theirs


class TestMergeTrees:
    def test_disjoint_changes_merge_into_a_tree_with_both(
        self, diverged: tuple[GitRepo, str, str, str]
    ) -> None:
        repo, _base, ours, theirs = diverged
        result = merge_trees(repo, ours, theirs)
        assert result.clean and result.tree is not None
        listing = repo.text("ls-tree", "--name-only", result.tree).split()
        assert listing == ["a.txt", "b.txt"]
        blob = repo.text("rev-parse", f"{result.tree}:a.txt").strip()
        assert repo.read_blob(blob) == b"one\nTWO\nthree\n"

    def test_same_line_changed_on_both_sides_is_a_conflict_naming_the_file(
        self, diverged: tuple[GitRepo, str, str, str]
    ) -> None:
        repo, base, ours, _theirs = diverged
        other = _commit(repo, base, {"a.txt": "one\n2\nthree\n"}, "clash")
        result = merge_trees(repo, ours, other)
        assert not result.clean
        assert result.tree is None
        assert result.conflicts == ("a.txt",)

    def test_unrelated_histories_fail_rather_than_conflict(self, repo: GitRepo) -> None:
        left = _commit(repo, None, {"x": "1\n"}, "left")
        right = _commit(repo, None, {"y": "2\n"}, "right")
        with pytest.raises(MergeFailed):
            merge_trees(repo, left, right)


class TestQuarantine:
    def test_a_conflicted_merge_leaves_the_object_store_unchanged(
        self, diverged: tuple[GitRepo, str, str, str]
    ) -> None:
        repo, base, ours, _theirs = diverged
        other = _commit(repo, base, {"a.txt": "x\ny\nz\n"}, "clash")
        before = _objects(repo)
        with quarantine(repo) as q:
            result = merge_trees(q.git, ours, other)
        assert not result.clean
        assert _objects(repo) == before

    def test_objects_written_in_quarantine_land_only_after_migrate(
        self, diverged: tuple[GitRepo, str, str, str]
    ) -> None:
        repo, _base, ours, theirs = diverged
        with quarantine(repo) as q:
            result = merge_trees(q.git, ours, theirs)
            assert result.tree is not None
            commit = commit_tree(q.git, result.tree, [ours, theirs], "Merge", ME, ME)
            assert repo.resolve(commit) is None  # not in the repository yet
            q.migrate()
        assert repo.resolve(commit) == commit
        assert repo.commit(commit).parents == (ours, theirs)
        assert repo.text("fsck", "--no-dangling").strip() == ""

    def test_an_abandoned_quarantine_is_removed(self, repo: GitRepo) -> None:
        with quarantine(repo) as q:
            directory = q.directory
            assert directory.is_dir()
        assert not directory.exists()
        assert not [p for p in (repo.path / "objects").iterdir() if "quarantine" in p.name]


class TestCommitTree:
    def test_author_and_committer_are_recorded_separately(
        self, diverged: tuple[GitRepo, str, str, str]
    ) -> None:
        repo, _base, ours, _theirs = diverged
        author = Identity("Pat Author", "pat@example.test")
        commit = commit_tree(repo, tree_of(repo, ours), [ours], "squashed\n\nbody", author, ME)
        found = repo.commit(commit)
        assert (found.author.name, found.committer.email) == ("Pat Author", "bot@example.test")
        assert found.message.startswith("squashed\n\nbody")


class TestFetchRef:
    def test_a_forks_branch_is_copied_into_a_hidden_ref(self, tmp_path: Path) -> None:
        upstream = GitRepo.init_bare(tmp_path / "up.git")
        base = _commit(upstream, None, {"a": "1\n"}, "base")
        upstream.update_ref("refs/heads/main", base)
        fork = GitRepo.clone_bare(upstream.path, tmp_path / "fork.git")
        tip = _commit(fork, base, {"b": "2\n"}, "fork work")
        fork.update_ref("refs/heads/topic", tip)
        got = fetch_ref(upstream, fork, "topic", "refs/pullrequests/1/from")
        assert got == tip
        assert upstream.commit(tip).message.startswith("fork work")
        hide_refs(upstream, "refs/pullrequests")
        hide_refs(upstream, "refs/pullrequests")  # idempotent
        config = upstream.text("config", "--get-all", "transfer.hideRefs").split()
        assert config == ["refs/pullrequests"]
        advertised = subprocess.run(
            ["git", "ls-remote", str(upstream.path)], capture_output=True, text=True, check=True
        ).stdout
        assert "refs/pullrequests" not in advertised and "refs/heads/main" in advertised

    def test_a_missing_branch_gives_none(self, tmp_path: Path) -> None:
        a = GitRepo.init_bare(tmp_path / "a.git")
        b = GitRepo.init_bare(tmp_path / "b.git")
        assert fetch_ref(a, b, "nope", "refs/pullrequests/1/from") is None
