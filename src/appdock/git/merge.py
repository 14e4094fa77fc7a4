"""Merging with git, without a working tree and without touching anything until it succeeded.

The recipe (``git merge-tree --write-tree`` + ``git commit-tree``, then the caller moves the branch
with :meth:`GitRepo.update_ref` and the old value as a compare-and-swap):

- :func:`quarantine` gives a view of the repository whose *new* objects go to a temporary object
  directory (the existing ones stay readable as an alternate). Trees and commits of a merge are
  written there; :meth:`Quarantine.migrate` moves them into the repository only once the merge
  is clean. A conflicted or failed merge leaves the repository byte for byte as it was.
- :func:`merge_trees` runs a real three-way merge (git's ``ort`` strategy, rename detection
  included) of two commits and returns the resulting tree or the conflicted paths.
- :func:`commit_tree` writes a commit with explicit parents, author and committer.
- :func:`fetch_ref` copies a branch of another repository on this disk (a fork) into a ref here.

    >>> with quarantine(repo) as q:
    ...     result = merge_trees(q.git, dest_tip, source_tip)
    ...     if result.conflicts: raise ...
    ...     commit = commit_tree(q.git, result.tree, [dest_tip, source_tip], "Merged", me, me)
    ...     q.migrate()
    >>> repo.update_ref("refs/heads/main", commit, dest_tip)   # RefConflict if main moved
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from appdock.git.refnames import is_valid_ref_name
from appdock.git.repo import GitError, GitRepo, Identity


class MergeFailed(GitError):
    """git could not merge at all (unrelated histories, a missing commit): not a conflict."""


@dataclass(frozen=True)
class MergeResult:
    """A clean merge has ``tree``; a conflicted one lists the ``conflicts`` (paths)."""

    tree: str | None
    conflicts: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return self.tree is not None and not self.conflicts


@dataclass
class Quarantine:
    """A repository view writing new objects to ``directory`` until :meth:`migrate`."""

    git: GitRepo
    target: GitRepo
    directory: Path
    migrated: bool = field(default=False)

    def migrate(self) -> None:
        """Move every object written in quarantine into the repository (loose objects first,
        then packs, each ``.pack`` before its ``.idx``, as git's own quarantine does)."""
        objects = self.target.path / "objects"
        for root, _dirs, files in os.walk(self.directory):
            rel = Path(root).relative_to(self.directory)
            if rel.parts[:1] == ("pack",):
                continue
            for name in files:
                dest = objects / rel / name
                if dest.exists():
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(Path(root) / name, dest)
        packs = self.directory / "pack"
        if packs.is_dir():
            (objects / "pack").mkdir(exist_ok=True)
            ordered = sorted(packs.iterdir(), key=lambda p: (p.suffix == ".idx", p.name))
            for item in ordered:
                dest = objects / "pack" / item.name
                if not dest.exists():
                    os.replace(item, dest)
        self.migrated = True


@contextmanager
def quarantine(git: GitRepo) -> Iterator[Quarantine]:
    """A :class:`Quarantine` for ``git``; the temporary directory is always removed."""
    objects = git.path / "objects"
    directory = Path(tempfile.mkdtemp(prefix="appdock-quarantine-", dir=objects))
    env = dict(git.env_extra)
    env["GIT_OBJECT_DIRECTORY"] = str(directory)
    env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = str(objects)
    try:
        yield Quarantine(git=GitRepo(git.path, env), target=git, directory=directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def merge_trees(git: GitRepo, ours: str, theirs: str) -> MergeResult:
    """Three-way merge of two commits (merge base found by git). Writes objects (use a
    :func:`quarantine`), never refs, index or files."""
    proc = git.run(
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "-z",
        ours,
        theirs,
        check=False,
    )
    out = proc.stdout.decode(errors="replace")
    if proc.returncode not in (0, 1):
        stderr = proc.stderr.decode(errors="replace").strip()
        raise MergeFailed(f"git merge-tree failed: {stderr[:300]}", stderr, proc.returncode)
    parts = out.split("\x00")
    tree = parts[0].strip() if parts and parts[0].strip() else None
    if proc.returncode == 0:
        return MergeResult(tree=tree)
    conflicts: list[str] = []
    for part in parts[1:]:
        if not part:
            break  # the file list ends with an empty record
        if part not in conflicts:
            conflicts.append(part)
    return MergeResult(tree=None, conflicts=tuple(conflicts))


def commit_tree(
    git: GitRepo,
    tree: str,
    parents: Sequence[str],
    message: str,
    author: Identity,
    committer: Identity,
) -> str:
    """Write a commit object and return its id (no ref moves)."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    env = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
    }
    body = message if message.endswith("\n") else message + "\n"
    proc = git.run(*args, input=body.encode(), env=env)
    return proc.stdout.decode().strip()


def tree_of(git: GitRepo, commit: str) -> str:
    return git.text("rev-parse", f"{commit}^{{tree}}").strip()


def fetch_ref(git: GitRepo, source: GitRepo, branch: str, into: str) -> str | None:
    """Copy ``refs/heads/<branch>`` of a repository on this disk into ``into`` here (forced),
    returning the commit now at ``into``, or None when the branch does not exist there."""
    if not is_valid_ref_name(branch) or not into.startswith("refs/"):
        raise GitError(f"invalid ref {branch!r} or {into!r}")
    proc = git.run(
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        str(source.path),
        f"+refs/heads/{branch}:{into}",
        check=False,
    )
    if proc.returncode != 0:
        return None
    return git.ref_value(into)


def hide_refs(git: GitRepo, prefix: str) -> None:
    """Keep ``prefix`` refs out of what git clients see and may push (``transfer.hideRefs``)."""
    current = git.text("config", "--get-all", "transfer.hideRefs", check=False).split()
    if prefix not in current:
        git.run("config", "--add", "transfer.hideRefs", prefix)
