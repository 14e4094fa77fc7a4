"""The git adapter against real bare repositories (no database)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from appdock.git import (
    EMPTY_TREE,
    ZERO,
    GitRepo,
    Identity,
    PathNotFound,
    RefConflict,
    RefUpdate,
    RevisionNotFound,
    is_valid_ref_name,
    parse_unified_diff,
)


def commit(
    repo: GitRepo,
    files: dict[str, str | bytes | None],
    *,
    branch: str = "main",
    message: str = "change",
    email: str = "a@example.test",
) -> str:
    base = repo.resolve(f"refs/heads/{branch}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "GIT_INDEX_FILE": os.path.join(tmp, "i"),
            "GIT_AUTHOR_NAME": "A",
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": "A",
            "GIT_COMMITTER_EMAIL": email,
        }
        if base:
            repo.run("read-tree", base, env=env)
        for path, content in files.items():
            if content is None:
                repo.run(
                    "update-index",
                    "--index-info",
                    input=f"0 {'0' * 40}\t{path}\n".encode(),
                    env=env,
                )
                continue
            data = content.encode() if isinstance(content, str) else content
            oid = repo.run("hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
            repo.run("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", env=env)
        tree = repo.run("write-tree", env=env).stdout.decode().strip()
        args = ["commit-tree", tree, "-m", message] + (["-p", base] if base else [])
        new = repo.run(*args, env=env).stdout.decode().strip()
    repo.update_ref(f"refs/heads/{branch}", new)
    return new


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.init_bare(tmp_path / "r.git")


class TestInit:
    def test_new_repository_is_empty_with_head_on_main(self, repo: GitRepo) -> None:
        assert repo.is_empty()
        assert repo.head_branch() == "main"
        assert repo.branches() == []

    def test_existing_path_is_refused(self, repo: GitRepo) -> None:
        with pytest.raises(Exception, match="already exists"):
            GitRepo.init_bare(repo.path)


class TestHistory:
    def test_log_is_newest_first_with_skip_and_limit(self, repo: GitRepo) -> None:
        hashes = [commit(repo, {"f": str(i)}, message=f"c{i}") for i in range(5)]
        assert [c.hash for c in repo.log(["main"])] == hashes[::-1]
        page = repo.log(["main"], skip=1, limit=2)
        assert [c.summary for c in page] == ["c3", "c2"]
        assert repo.count(["main"]) == 5

    def test_exclude_hides_commits_reachable_from_it(self, repo: GitRepo) -> None:
        base = commit(repo, {"f": "1"})
        commit(repo, {"g": "1"}, branch="feature")  # branches off nothing: new root
        repo.update_ref("refs/heads/topic", base)
        top = commit(repo, {"t": "1"}, branch="topic")
        assert [c.hash for c in repo.log(["topic"], ["main"])] == [top]

    def test_all_refs_walks_every_branch(self, repo: GitRepo) -> None:
        commit(repo, {"a": "1"})
        commit(repo, {"b": "1"}, branch="other")
        assert repo.count(all_refs=True) == 2

    def test_unknown_revision_raises(self, repo: GitRepo) -> None:
        commit(repo, {"a": "1"})
        with pytest.raises(RevisionNotFound):
            repo.log(["nope"])

    def test_option_like_revision_is_never_passed_to_git(self, repo: GitRepo) -> None:
        commit(repo, {"a": "1"})
        assert repo.resolve("--all") is None
        assert repo.resolve("main..main") is None
        with pytest.raises(RevisionNotFound):
            repo.commit("--output=/tmp/x")

    def test_commit_fields(self, repo: GitRepo) -> None:
        first = commit(repo, {"a": "1"}, message="Title\n\nBody text")
        second = commit(repo, {"a": "2"}, email="b@example.test")
        c = repo.commit(second)
        assert c.parents == (first,)
        assert c.author.email == "b@example.test"
        assert repo.commit(first).summary == "Title"
        assert "Body text" in repo.commit(first).message

    def test_is_ancestor_and_merge_base(self, repo: GitRepo) -> None:
        a = commit(repo, {"a": "1"})
        b = commit(repo, {"a": "2"})
        assert repo.is_ancestor(a, b) and not repo.is_ancestor(b, a)
        assert repo.merge_base(a, b) == a


class TestTrees:
    def test_tree_lists_directories_first_with_sizes(self, repo: GitRepo) -> None:
        commit(repo, {"zeta.txt": "zz", "src/app.py": "print(1)\n", "README.md": "# hi\n"})
        entries = repo.tree("main")
        assert [(e.name, e.kind) for e in entries] == [
            ("src", "tree"),
            ("README.md", "blob"),
            ("zeta.txt", "blob"),
        ]
        assert entries[1].size == 5
        assert [e.path for e in repo.tree("main", "src")] == ["src/app.py"]

    def test_entry_and_blob(self, repo: GitRepo) -> None:
        commit(repo, {"docs/a b.md": "spaced"})
        entry = repo.entry("main", "docs/a b.md")
        assert entry is not None and not entry.is_dir
        assert repo.read_blob(entry.oid) == b"spaced"
        assert b"".join(repo.stream_blob(entry.oid)) == b"spaced"
        assert repo.entry("main", "missing") is None

    def test_tree_of_a_file_or_missing_path_raises(self, repo: GitRepo) -> None:
        commit(repo, {"a.txt": "x"})
        with pytest.raises(PathNotFound):
            repo.tree("main", "a.txt")
        with pytest.raises(PathNotFound):
            repo.tree("main", "nope")

    def test_parent_directory_escape_is_refused(self, repo: GitRepo) -> None:
        commit(repo, {"a.txt": "x"})
        with pytest.raises(PathNotFound):
            repo.entry("main", "../../etc/passwd")


class TestDiffs:
    def test_diffstat_statuses_and_counts(self, repo: GitRepo) -> None:
        commit(repo, {"keep.txt": "a\nb\n", "gone.txt": "x\n", "old.py": "line\n" * 20})
        before = repo.require("main")
        after = commit(
            repo,
            {
                "keep.txt": "a\nc\nd\n",
                "gone.txt": None,
                "old.py": None,
                "new.py": "line\n" * 20,
                "bin.dat": b"\x00\x01",
            },
        )
        changes = {(c.status, c.old_path, c.new_path): c for c in repo.diffstat(before, after)}
        assert changes[("modified", "keep.txt", "keep.txt")].lines_added == 2
        assert changes[("modified", "keep.txt", "keep.txt")].lines_removed == 1
        assert ("removed", "gone.txt", None) in changes
        assert ("renamed", "old.py", "new.py") in changes
        assert changes[("added", None, "bin.dat")].binary

    def test_root_commit_diffs_against_the_empty_tree(self, repo: GitRepo) -> None:
        root = commit(repo, {"a.txt": "hello\n"})
        assert repo.parent_or_empty(root) == EMPTY_TREE
        files = parse_unified_diff(repo.diff(EMPTY_TREE, root))
        assert files[0].status == "added" and files[0].old_path is None
        assert files[0].hunks[0].lines[0].text == "hello"
        assert files[0].hunks[0].lines[0].new_no == 1

    def test_parsed_lines_are_numbered_on_both_sides(self, repo: GitRepo) -> None:
        commit(repo, {"f.txt": "one\ntwo\nthree\n"})
        before = repo.require("main")
        after = commit(repo, {"f.txt": "one\n2\nthree\n<script>\n"})
        (f,) = parse_unified_diff(repo.diff(before, after))
        kinds = [(line.kind, line.text, line.old_no, line.new_no) for line in f.hunks[0].lines]
        assert ("del", "two", 2, None) in kinds
        assert ("add", "2", None, 2) in kinds
        assert ("add", "<script>", None, 4) in kinds  # raw text: escaping is the renderer's job
        assert (f.added, f.removed) == (2, 1)

    def test_max_lines_truncates_hunks(self, repo: GitRepo) -> None:
        commit(repo, {"f.txt": ""})
        before = repo.require("main")
        after = commit(repo, {"f.txt": "x\n" * 100})
        (f,) = parse_unified_diff(repo.diff(before, after), max_lines=10)
        assert sum(len(h.lines) for h in f.hunks) == 10
        assert f.added == 100


class TestRefs:
    def test_branches_and_annotated_tags(self, repo: GitRepo) -> None:
        head = commit(repo, {"a": "1"})
        tag = repo.create_annotated_tag("v1", head, "Release 1", Identity("Rel", "rel@x.test"))
        repo.update_ref("refs/tags/v1", tag, ZERO)
        (t,) = repo.tags()
        assert t.name == "v1" and t.object == tag and t.target == head
        assert t.tag_message is not None and "Release 1" in t.tag_message
        assert t.tagger is not None and t.tagger.email == "rel@x.test"
        assert repo.branch("main") is not None and repo.branch("nope") is None

    def test_describe_ref_of_an_unreferenced_commit(self, repo: GitRepo) -> None:
        old = commit(repo, {"a": "1"})
        commit(repo, {"a": "2"})
        ref = repo.describe_ref("branch", "main", old)
        assert ref.commit is not None and ref.commit.hash == old

    def test_compare_and_swap_update(self, repo: GitRepo) -> None:
        a = commit(repo, {"a": "1"})
        b = commit(repo, {"a": "2"})
        with pytest.raises(RefConflict):
            repo.update_ref("refs/heads/main", a, old=a)  # main is at b, not a
        with pytest.raises(RefConflict):
            repo.update_ref("refs/heads/main", a, old=ZERO)  # exists already
        repo.update_ref("refs/heads/main", a, old=b)
        assert repo.resolve("main") == a

    def test_clone_bare_copies_every_ref(self, repo: GitRepo, tmp_path: Path) -> None:
        commit(repo, {"a": "1"})
        commit(repo, {"b": "1"}, branch="feature")
        copy = GitRepo.clone_bare(repo.path, tmp_path / "copy.git")
        assert {b.name for b in copy.branches()} == {"main", "feature"}
        assert copy.text("remote").strip() == ""


class TestRefNames:
    @pytest.mark.parametrize("name", ["main", "feature/readme", "v1.0", "a-b_c", "release/2024/x"])
    def test_valid(self, name: str) -> None:
        assert is_valid_ref_name(name)

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "-x",
            "/x",
            "x/",
            "a..b",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "x.lock",
            "a/.hidden",
            "a//b",
            "@",
            "a@{1}",
            "HEAD",
            "end.",
        ],
    )
    def test_invalid(self, name: str) -> None:
        assert not is_valid_ref_name(name)


class TestRefUpdate:
    def test_parse_hook_lines(self) -> None:
        (u,) = RefUpdate.parse_lines(f"{ZERO} {'a' * 40} refs/heads/feature/x\n")
        assert u.created and not u.deleted and u.kind == "branch" and u.name == "feature/x"
        (t,) = RefUpdate.parse_lines(f"{'a' * 40} {ZERO} refs/tags/v1")
        assert t.deleted and t.kind == "tag"
        (other,) = RefUpdate.parse_lines(f"{'a' * 40} {'b' * 40} refs/notes/commits")
        assert other.kind is None


class TestTemporaryWorktree:
    def test_merge_in_a_worktree_writes_objects_but_moves_no_ref(self, repo: GitRepo) -> None:
        base = commit(repo, {"a.txt": "1\n"})
        commit(repo, {"b.txt": "1\n"}, branch="feature")  # unrelated root: use a real branch
        repo.update_ref("refs/heads/feature", base)
        feature = commit(repo, {"f.txt": "f\n"}, branch="feature")
        main = commit(repo, {"m.txt": "m\n"})
        with repo.temporary_worktree(main, Identity("Merger", "m@example.test")) as wt:
            wt.run("merge", "--no-ff", "-q", "-m", "Merge feature", feature)
            merged = wt.head()
            path = wt.path
        assert not path.exists()
        assert repo.resolve("main") == main  # nothing moved by itself
        assert repo.commit(merged).parents == (main, feature)
        assert repo.commit(merged).author.email == "m@example.test"
        assert len(repo.text("worktree", "list").splitlines()) == 1  # only the bare repo
