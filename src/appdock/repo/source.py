"""Reading source through git for the API and the pages: ``<ref>/<path>`` URLs where the ref may
contain slashes, diff specs, and content types that never let a repository file run as a page."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence

from appdock.core.errors import NotFound
from appdock.git import GitRepo

SNIFF_BYTES = 8000
# Binary types served as themselves (they cannot carry script); everything else is text/plain or
# application/octet-stream. HTML and SVG files are text, so they are shown as text.
SAFE_BINARY_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/octet-stream",
        "font/woff",
        "font/woff2",
        "audio/mpeg",
        "video/mp4",
    }
)


def resolve_ref_path(git: GitRepo, segments: Sequence[str]) -> tuple[str, str] | None:
    """Split ``["feature", "readme", "docs", "a.md"]`` into the commit of the longest branch or
    tag prefix (``feature/readme``) and the path (``docs/a.md``); a first segment that is a commit
    hash (or any revision) works too. None when nothing resolves."""
    segments = [s for s in segments if s]
    if not segments:
        return None
    if len(segments) > 1:
        names = git.ref_names()
        for i in range(len(segments), 1, -1):
            candidate = "/".join(segments[:i])
            if candidate in names:
                commit = git.resolve(candidate)
                if commit:
                    return commit, "/".join(segments[i:])
    commit = git.resolve(segments[0])
    if commit is None:
        return None
    return commit, "/".join(segments[1:])


def split_spec(spec: str) -> tuple[str, str | None]:
    """``new..old`` (or ``new...old``) → (new, old); a single revision → (rev, None)."""
    if "..." in spec:
        new, _, old = spec.partition("...")
        return new, old
    if ".." in spec:
        new, _, old = spec.partition("..")
        return new, old
    return spec, None


def diff_revisions(git: GitRepo, spec: str, *, topic: bool = True) -> tuple[str, str]:
    """(old, new) commits for a Bitbucket diff spec.

    ``a..b`` compares ``a`` (the source, new side) with ``b`` (the destination); with ``topic``
    (the default, as Bitbucket) against their merge base, so only ``a``'s own changes show.
    A single commit is compared with its first parent (the empty tree for a root commit).
    """
    new_spec, old_spec = split_spec(spec)
    new = git.resolve(new_spec)
    if new is None:
        raise NotFound(f"revision {new_spec!r} not found")
    if old_spec is None:
        return git.parent_or_empty(new), new
    old = git.resolve(old_spec)
    if old is None:
        raise NotFound(f"revision {old_spec!r} not found")
    if topic:
        old = git.merge_base(new, old) or old
    return old, new


def sniff_binary(head: bytes) -> bool:
    return b"\x00" in head[:SNIFF_BYTES]


def is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniffing boundary is still UTF-8.
        return exc.start >= len(head) - 4
    return True


def blob_media_type(path: str, head: bytes, binary: bool) -> str:
    if not binary:
        return "text/plain; charset=utf-8" if is_utf8(head) else "text/plain"
    guessed = mimetypes.guess_type(path, strict=False)[0]
    return guessed if guessed in SAFE_BINARY_TYPES else "application/octet-stream"
