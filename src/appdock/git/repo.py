"""A bare git repository on disk, driven through the ``git`` CLI.

Invariants:
- Every git call is an argument list (never a shell) with ``--git-dir`` pointing at the bare
  repository, a C locale, no terminal prompts, and no inherited ``GIT_DIR``-style variables.
- User input that reaches git as a revision is checked first (:func:`_check_rev`) so it can never be
  read as an option.
- Nothing here knows about the database or HTTP; callers map :class:`GitError` subclasses to their
  own errors.

    >>> repo = GitRepo.init_bare(Path("/srv/repos/abc.git"))
    >>> repo.is_empty()
    True
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

from appdock.git.refnames import is_valid_ref_name

ZERO = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
CHUNK = 64 * 1024

# Variables that would make git operate on another repository or read another configuration.
_SCRUBBED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_NAMESPACE",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_QUARANTINE_PATH",
)


class GitError(Exception):
    """git failed; ``stderr`` holds what it said."""

    def __init__(self, message: str, stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.stderr = stderr
        self.returncode = returncode


class RevisionNotFound(GitError):
    pass


class PathNotFound(GitError):
    pass


class RefConflict(GitError):
    """A ref update lost a race or the ref already exists / does not exist."""


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: datetime

    @property
    def raw(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Commit:
    hash: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str

    @property
    def summary(self) -> str:
        return self.message.strip().split("\n", 1)[0]

    @property
    def short(self) -> str:
        return self.hash[:12]


@dataclass(frozen=True)
class Ref:
    """A branch (``refs/heads/<name>``) or tag (``refs/tags/<name>``) and the commit it names.

    For an annotated tag ``object`` is the tag object and ``tag_message``/``tagger`` are set.
    """

    kind: str  # "branch" | "tag"
    name: str
    object: str
    commit: Commit | None
    tag_message: str | None = None
    tagger: Person | None = None

    @property
    def full(self) -> str:
        return ("refs/heads/" if self.kind == "branch" else "refs/tags/") + self.name

    @property
    def target(self) -> str:
        return self.commit.hash if self.commit else self.object


@dataclass(frozen=True)
class TreeEntry:
    path: str
    name: str
    kind: str  # "blob" | "tree" | "commit" (submodule)
    mode: str
    oid: str
    size: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind == "tree"

    @property
    def is_link(self) -> bool:
        return self.mode == "120000"

    @property
    def is_executable(self) -> bool:
        return self.mode == "100755"

    @property
    def is_submodule(self) -> bool:
        return self.kind == "commit"


@dataclass(frozen=True)
class FileChange:
    """One file of a diff: ``status`` is added | removed | modified | renamed."""

    status: str
    old_path: str | None
    new_path: str | None
    lines_added: int
    lines_removed: int
    binary: bool = False


@dataclass(frozen=True)
class RefUpdate:
    """One line a ``post-receive`` hook reads: ``<old> <new> <ref>``."""

    old: str
    new: str
    ref: str

    @property
    def created(self) -> bool:
        return self.old == ZERO

    @property
    def deleted(self) -> bool:
        return self.new == ZERO

    @property
    def kind(self) -> str | None:
        if self.ref.startswith("refs/heads/"):
            return "branch"
        if self.ref.startswith("refs/tags/"):
            return "tag"
        return None

    @property
    def name(self) -> str:
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref

    @classmethod
    def parse_lines(cls, text: str) -> list[RefUpdate]:
        updates = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3:
                updates.append(cls(parts[0], parts[1], parts[2]))
        return updates


@dataclass(frozen=True)
class Identity:
    """Who git records as author/committer/tagger of something the host writes."""

    name: str
    email: str

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update({"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"})
    if extra:
        env.update(extra)
    return env


def _check_rev(rev: str) -> str:
    """A revision argument must not look like an option or carry whitespace/control characters."""
    if not rev or rev.startswith("-") or any(c.isspace() or ord(c) < 32 for c in rev):
        raise RevisionNotFound(f"revision {rev!r} not found")
    if ".." in rev and not rev.startswith("refs/"):
        raise RevisionNotFound(f"revision {rev!r} not found")
    return rev


def normalize_path(path: str) -> str:
    """A repository path without leading/trailing slashes; ``..`` and empty segments refused."""
    parts = [p for p in path.strip("/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise PathNotFound(f"path {path!r} not found")
    return "/".join(parts)


def _parse_person(name: str, email: str, date: str) -> Person:
    return Person(name=name, email=email, date=datetime.fromisoformat(date))


def _epoch_to_datetime(stamp: str, tz: str) -> datetime:
    try:
        sign = -1 if tz.startswith("-") else 1
        hours, minutes = int(tz[1:3]), int(tz[3:5])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        return datetime.fromtimestamp(int(stamp), zone)
    except (ValueError, IndexError):
        return datetime.fromtimestamp(0, UTC)


_LOG_FORMAT = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B"


def _parse_commits(out: str) -> list[Commit]:
    commits = []
    for record in out.split("\x00"):
        record = record.lstrip("\n")
        if not record:
            continue
        fields = record.split("\x1f", 8)
        if len(fields) != 9:
            continue
        h, parents, an, ae, ad, cn, ce, cd, message = fields
        commits.append(
            Commit(
                hash=h,
                parents=tuple(parents.split()),
                author=_parse_person(an, ae, ad),
                committer=_parse_person(cn, ce, cd),
                message=message,
            )
        )
    return commits


@dataclass
class Worktree:
    """A working tree of a bare repository (see :meth:`GitRepo.temporary_worktree`)."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            env=git_env(self.env),
            check=False,
        )
        if check and proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed: {stderr[:500]}", stderr, proc.returncode)
        return proc

    def head(self) -> str:
        return self.run("rev-parse", "HEAD").stdout.decode().strip()


@dataclass
class GitRepo:
    path: Path
    env_extra: dict[str, str] = field(default_factory=dict)

    # ---- running git ---------------------------------------------------------------------------
    def _args(self, *args: str) -> list[str]:
        return ["git", "--git-dir", str(self.path), "-c", "core.quotepath=off", *args]

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        merged = dict(self.env_extra)
        if env:
            merged.update(env)
        proc = subprocess.run(
            self._args(*args), input=input, capture_output=True, env=git_env(merged), check=False
        )
        if check and proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed: {stderr[:500]}", stderr, proc.returncode)
        return proc

    def text(self, *args: str, check: bool = True) -> str:
        return self.run(*args, check=check).stdout.decode(errors="replace")

    def stream(self, *args: str) -> Iterator[bytes]:
        """Stream git's stdout in chunks without holding it all in memory."""
        proc = subprocess.Popen(
            self._args(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(self.env_extra),
        )
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read(CHUNK):
                yield chunk
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    # ---- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def init_bare(cls, path: Path, *, default_branch: str = "main") -> GitRepo:
        """Create an empty bare repository; fails if ``path`` exists."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise GitError(f"{path} already exists")
        proc = subprocess.run(
            ["git", "init", "--bare", "--quiet", f"--initial-branch={default_branch}", str(path)],
            capture_output=True,
            env=git_env(),
            check=False,
        )
        if proc.returncode != 0:
            raise GitError("git init failed: " + proc.stderr.decode(errors="replace"))
        repo = cls(path)
        # Smart HTTP only; keep history immutable from the server's point of view unless forced.
        repo.run("config", "http.receivepack", "true")
        repo.run("config", "receive.denyNonFastForwards", "false")
        repo.run("config", "uploadpack.allowFilter", "true")
        repo.run("config", "uploadpack.allowAnySHA1InWant", "false")
        return repo

    @classmethod
    def clone_bare(cls, source: Path, path: Path) -> GitRepo:
        """A bare copy of ``source`` with every branch and tag (used for forks)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise GitError(f"{path} already exists")
        proc = subprocess.run(
            ["git", "clone", "--bare", "--quiet", "--no-hardlinks", "--", str(source), str(path)],
            capture_output=True,
            env=git_env(),
            check=False,
        )
        if proc.returncode != 0:
            raise GitError("git clone failed: " + proc.stderr.decode(errors="replace"))
        repo = cls(path)
        repo.run("remote", "remove", "origin", check=False)
        repo.run("config", "http.receivepack", "true")
        return repo

    def install_hook(self, name: str, script: str) -> None:
        hooks = self.path / "hooks"
        hooks.mkdir(exist_ok=True)
        target = hooks / name
        tmp = hooks / f".{name}.tmp"
        tmp.write_text(script)
        tmp.chmod(0o755)
        tmp.replace(target)

    @contextmanager
    def temporary_worktree(self, rev: str, identity: Identity | None = None) -> Iterator[Worktree]:
        """A detached checkout of ``rev`` in a temporary directory, sharing this repository's
        objects (commits made there exist here; no ref moves until the caller moves one).
        Removed on exit. For merges, squashes and other work that needs a working tree:

            >>> with repo.temporary_worktree(dest_head, Identity("Ada", "ada@x")) as wt:
            ...     wt.run("merge", "--no-ff", "-m", "Merge feature", source_head)
            ...     merged = wt.head()
            >>> repo.update_ref("refs/heads/main", merged, old=dest_head)
        """
        tmp = Path(tempfile.mkdtemp(prefix="appdock-wt-"))
        path = tmp / "work"
        self.run("worktree", "add", "--detach", "--quiet", str(path), self.require(rev))
        try:
            yield Worktree(path, identity.env() if identity else {})
        finally:
            self.run("worktree", "remove", "--force", str(path), check=False)
            shutil.rmtree(tmp, ignore_errors=True)
            self.run("worktree", "prune", check=False)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def exists(self) -> bool:
        return (self.path / "HEAD").exists()

    def disk_size(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue
        return total

    # ---- refs ----------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        out = self.text(
            "for-each-ref", "--count=1", "--format=%(refname)", "refs/heads", "refs/tags"
        )
        return not out.strip()

    def head_branch(self) -> str | None:
        proc = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def set_head(self, branch: str) -> None:
        if not is_valid_ref_name(branch):
            raise GitError(f"invalid branch name {branch!r}")
        self.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")

    def resolve(self, rev: str) -> str | None:
        """The commit a revision names (hash, branch, tag, ``main~2``), or None."""
        try:
            _check_rev(rev)
        except RevisionNotFound:
            return None
        proc = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().strip() or None

    def require(self, rev: str) -> str:
        found = self.resolve(rev)
        if found is None:
            raise RevisionNotFound(f"revision {rev!r} not found")
        return found

    def ref_value(self, full_ref: str) -> str | None:
        """The object a full ref points at (not peeled), or None."""
        proc = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", full_ref, check=False
        )
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    _REF_FORMAT = (
        "%(refname)%1f%(objecttype)%1f%(objectname)%1f%(*objectname)%1f"
        "%(taggername)%1f%(taggeremail:trim)%1f%(taggerdate:iso-strict)%1f%(contents)%00"
    )

    def _refs(self, pattern: str) -> list[tuple[str, str, str, str, Person | None, str | None]]:
        out = self.text("for-each-ref", f"--format={self._REF_FORMAT}", pattern)
        rows = []
        for record in out.split("\x00"):
            record = record.lstrip("\n")
            if not record:
                continue
            fields = record.split("\x1f", 7)
            if len(fields) != 8:
                continue
            refname, otype, oid, peeled, tname, temail, tdate, contents = fields
            tagger = _parse_person(tname, temail, tdate) if otype == "tag" and tdate else None
            message = contents if otype == "tag" else None
            rows.append((refname, otype, oid, peeled, tagger, message))
        return rows

    def _list_refs(self, kind: str, pattern: str) -> list[Ref]:
        rows = self._refs(pattern)
        targets = {r[0]: (r[3] or r[2]) for r in rows}
        commits = {c.hash: c for c in self.commits(sorted(set(targets.values())))}
        prefix = "refs/heads/" if kind == "branch" else "refs/tags/"
        return [
            Ref(
                kind=kind,
                name=refname[len(prefix) :],
                object=oid,
                commit=commits.get(targets[refname]),
                tag_message=message,
                tagger=tagger,
            )
            for refname, _otype, oid, _peeled, tagger, message in rows
        ]

    def branches(self) -> list[Ref]:
        return self._list_refs("branch", "refs/heads")

    def tags(self) -> list[Ref]:
        return self._list_refs("tag", "refs/tags")

    def branch(self, name: str) -> Ref | None:
        if not is_valid_ref_name(name):
            return None
        found = self._list_refs("branch", f"refs/heads/{name}")
        return next((r for r in found if r.name == name), None)

    def tag(self, name: str) -> Ref | None:
        if not is_valid_ref_name(name):
            return None
        found = self._list_refs("tag", f"refs/tags/{name}")
        return next((r for r in found if r.name == name), None)

    def describe_ref(self, kind: str, name: str, oid: str) -> Ref:
        """A :class:`Ref` for ``name`` as if it pointed at ``oid`` (which may be an annotated tag
        object or a commit that no ref names any more): used for pushes' old/new values."""
        tagger = None
        message = None
        proc = self.run("cat-file", "-t", oid, check=False)
        if proc.stdout.decode().strip() == "tag":
            raw = self.text("cat-file", "tag", oid)
            header, _, message = raw.partition("\n\n")
            for line in header.splitlines():
                if line.startswith("tagger "):
                    who, _, when = line[len("tagger ") :].rpartition("> ")
                    tname, _, temail = who.partition(" <")
                    stamp, _, tz = when.partition(" ")
                    tagger = Person(tname, temail, _epoch_to_datetime(stamp, tz))
        peeled = self.resolve(oid)
        commit = self.commits([peeled])[0] if peeled else None
        return Ref(
            kind=kind, name=name, object=oid, commit=commit, tag_message=message, tagger=tagger
        )

    def ref_names(self) -> set[str]:
        """Short names of every branch and tag (to split ``<ref>/<path>`` URLs)."""
        out = self.text("for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/tags")
        return {line for line in out.splitlines() if line}

    def update_ref(
        self, full_ref: str, new: str, old: str | None = None, *, reason: str = ""
    ) -> None:
        """Point ``full_ref`` at ``new``; with ``old`` given, only if it still points there
        (``ZERO``: only if it does not exist yet). Raises :class:`RefConflict` otherwise."""
        args = ["update-ref", "-m", reason or "appdock", full_ref, new]
        if old is not None:
            args.append(old)
        proc = self.run(*args, check=False)
        if proc.returncode != 0:
            raise RefConflict(
                f"cannot update {full_ref}: {proc.stderr.decode(errors='replace').strip()[:300]}",
                proc.stderr.decode(errors="replace"),
                proc.returncode,
            )

    def delete_ref(self, full_ref: str, old: str | None = None) -> None:
        args = ["update-ref", "-d", full_ref]
        if old is not None:
            args.append(old)
        proc = self.run(*args, check=False)
        if proc.returncode != 0:
            raise RefConflict(
                f"cannot delete {full_ref}: {proc.stderr.decode(errors='replace').strip()[:300]}",
                proc.stderr.decode(errors="replace"),
                proc.returncode,
            )

    def create_annotated_tag(self, name: str, target: str, message: str, tagger: Identity) -> str:
        """Write a tag object (not the ref) and return its id."""
        otype = self.text("cat-file", "-t", target).strip()
        body = (
            f"object {target}\ntype {otype}\ntag {name}\n"
            f"tagger {tagger.name} <{tagger.email}> {int(datetime.now().timestamp())} +0000\n\n"
            f"{message.rstrip()}\n"
        )
        return self.run("mktag", input=body.encode()).stdout.decode().strip()

    # ---- history -------------------------------------------------------------------------------
    def commit(self, rev: str) -> Commit:
        found = self.commits([self.require(rev)])
        if not found:
            raise RevisionNotFound(f"revision {rev!r} not found")
        return found[0]

    def commits(self, hashes: Sequence[str]) -> list[Commit]:
        """Commit details for known hashes, in the order given."""
        if not hashes:
            return []
        out = self.run(
            "log",
            "--no-walk=unsorted",
            "-z",
            f"--format={_LOG_FORMAT}",
            "--stdin",
            input=("\n".join(hashes) + "\n").encode(),
        ).stdout.decode(errors="replace")
        return _parse_commits(out)

    def _walk_args(
        self, include: Sequence[str], exclude: Sequence[str], all_refs: bool
    ) -> list[str]:
        revs = [self.require(r) for r in include]
        revs += ["^" + self.require(r) for r in exclude]
        if all_refs and not include:
            revs = ["--branches", "--tags", *revs]
        return revs

    def log(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        skip: int = 0,
        limit: int | None = None,
        paths: Sequence[str] = (),
        all_refs: bool = False,
        first_parent: bool = False,
    ) -> list[Commit]:
        """Commits reachable from ``include`` and not from ``exclude``, newest first.

        Revisions are resolved first (RevisionNotFound for unknown ones). With no ``include`` and
        ``all_refs``, every branch and tag is walked, as Bitbucket's ``/commits`` does.
        """
        revs = self._walk_args(include, exclude, all_refs)
        if not any(not r.startswith("^") for r in revs):
            return []
        args = ["log", "-z", f"--format={_LOG_FORMAT}", "--topo-order", f"--skip={skip}"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        if first_parent:
            args.append("--first-parent")
        args += [*revs, "--"]
        args += [normalize_path(p) for p in paths if normalize_path(p)]
        return _parse_commits(self.text(*args))

    def count(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        paths: Sequence[str] = (),
        all_refs: bool = False,
    ) -> int:
        revs = self._walk_args(include, exclude, all_refs)
        if not any(not r.startswith("^") for r in revs):
            return 0
        args = ["rev-list", "--count", *revs, "--"]
        args += [normalize_path(p) for p in paths if normalize_path(p)]
        return int(self.text(*args).strip() or 0)

    def rev_list(
        self, include: Sequence[str], exclude: Sequence[str] = (), *, limit: int | None = None
    ) -> list[str]:
        """Hashes reachable from ``include`` but not ``exclude`` (already-resolved ids or
        ``--branches``-style options the caller controls), newest first."""
        args = ["rev-list", "--topo-order"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        args += [*include, *("^" + e for e in exclude), "--"]
        return self.text(*args).split()

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        proc = self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return proc.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run("merge-base", a, b, check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    # ---- trees and blobs -----------------------------------------------------------------------
    def entry(self, commit: str, path: str) -> TreeEntry | None:
        """The tree entry at ``path`` in ``commit`` (None if absent). The root is a tree entry."""
        path = normalize_path(path)
        if not path:
            tree = self.text("rev-parse", f"{commit}^{{tree}}").strip()
            return TreeEntry(path="", name="", kind="tree", mode="040000", oid=tree)
        out = self.text("ls-tree", "-z", "-l", commit, "--", path)
        for item in self._parse_tree(out):
            if item.path == path:
                return item
        return None

    def tree(self, commit: str, path: str = "") -> list[TreeEntry]:
        """Entries of the directory ``path`` at ``commit``: directories first, then by name."""
        path = normalize_path(path)
        entry = self.entry(commit, path)
        if entry is None:
            raise PathNotFound(f"path {path!r} not found at {commit[:12]}")
        if not entry.is_dir:
            raise PathNotFound(f"{path!r} is not a directory")
        args = ["ls-tree", "-z", "-l", commit]
        if path:
            args += ["--", path + "/"]
        items = self._parse_tree(self.text(*args))
        return sorted(items, key=lambda e: (not e.is_dir, e.name.lower()))

    @staticmethod
    def _parse_tree(out: str) -> list[TreeEntry]:
        items = []
        for record in out.split("\x00"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            parts = meta.split()
            if len(parts) != 4:
                continue
            mode, kind, oid, size = parts
            items.append(
                TreeEntry(
                    path=path,
                    name=PurePosixPath(path).name,
                    kind=kind,
                    mode=mode,
                    oid=oid,
                    size=int(size) if size.isdigit() else None,
                )
            )
        return items

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        if limit is None:
            return self.run("cat-file", "blob", oid).stdout
        data = b""
        for chunk in self.stream("cat-file", "blob", oid):
            data += chunk
            if len(data) >= limit:
                return data[:limit]
        return data

    def stream_blob(self, oid: str) -> Iterator[bytes]:
        return self.stream("cat-file", "blob", oid)

    # ---- diffs ---------------------------------------------------------------------------------
    def parent_or_empty(self, commit: str) -> str:
        found = self.commits([commit])
        if found and found[0].parents:
            return found[0].parents[0]
        return EMPTY_TREE

    def _diff_args(
        self,
        old: str,
        new: str,
        *,
        context: int = 3,
        paths: Sequence[str] = (),
        ignore_whitespace: bool = False,
        renames: bool = True,
    ) -> list[str]:
        args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", f"-U{max(0, context)}"]
        args.append("-M" if renames else "--no-renames")
        if ignore_whitespace:
            args.append("-w")
        args += [old, new, "--"]
        args += [normalize_path(p) for p in paths if normalize_path(p)]
        return args

    def diff(self, old: str, new: str, **kw: object) -> str:
        return self.text(*self._diff_args(old, new, **kw))  # type: ignore[arg-type]

    def stream_diff(self, old: str, new: str, **kw: object) -> Iterator[bytes]:
        return self.stream(*self._diff_args(old, new, **kw))  # type: ignore[arg-type]

    def diffstat(
        self, old: str, new: str, *, paths: Sequence[str] = (), renames: bool = True
    ) -> list[FileChange]:
        """Per-file changes between two revisions, in git's order."""
        base = ["diff", "--no-color", "--no-ext-diff", "-z", "-M" if renames else "--no-renames"]
        tail = [old, new, "--", *[normalize_path(p) for p in paths if normalize_path(p)]]
        counts = _parse_numstat(self.text(*base, "--numstat", *tail).split("\x00"))
        names = _parse_name_status(self.text(*base, "--name-status", *tail).split("\x00"))
        changes = []
        for index, (status, old_path, new_path) in enumerate(names):
            added, removed, binary = counts[index] if index < len(counts) else (0, 0, False)
            changes.append(FileChange(status, old_path, new_path, added, removed, binary))
        return changes


def _parse_numstat(items: list[str]) -> list[tuple[int, int, bool]]:
    """``--numstat -z``: ``added\tremoved\tpath`` NUL, or for renames ``added\tremoved\t`` NUL
    old NUL new."""
    counts: list[tuple[int, int, bool]] = []
    i = 0
    while i < len(items):
        item = items[i]
        if not item:
            i += 1
            continue
        added, removed, rest = [*item.split("\t", 2), "", ""][:3]
        binary = added == "-"
        counts.append(
            (0 if binary else int(added or 0), 0 if binary else int(removed or 0), binary)
        )
        i += 3 if rest == "" else 1
    return counts


def _parse_name_status(items: list[str]) -> list[tuple[str, str | None, str | None]]:
    """``--name-status -z``: ``X`` NUL path, or ``Rnn``/``Cnn`` NUL old NUL new."""
    out: list[tuple[str, str | None, str | None]] = []
    i = 0
    while i < len(items):
        code = items[i]
        if not code:
            i += 1
            continue
        letter = code[0]
        if letter in "RC" and i + 2 < len(items):
            source, target = items[i + 1], items[i + 2]
            i += 3
            if letter == "R":
                out.append(("renamed", source, target))
            else:
                out.append(("added", None, target))
            continue
        path = items[i + 1] if i + 1 < len(items) else ""
        i += 2
        if letter == "A":
            out.append(("added", None, path))
        elif letter == "D":
            out.append(("removed", path, None))
        else:
            out.append(("modified", path, path))
    return out
