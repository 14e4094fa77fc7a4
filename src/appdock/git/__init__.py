"""The on-disk git adapter: bare repositories driven through the ``git`` CLI. No database, no web.

Public surface: :class:`GitRepo` and its value types (:class:`Commit`, :class:`Ref`,
:class:`TreeEntry`, :class:`FileChange`, :class:`RefUpdate`, :class:`Person`, :class:`Identity`),
the errors (:class:`GitError`, :class:`RevisionNotFound`, :class:`PathNotFound`,
:class:`RefConflict`), ref name rules (:func:`is_valid_ref_name`) and the diff parser
(:func:`parse_unified_diff`).
"""

from appdock.git.diff import DiffLine, FileDiff, Hunk, parse_unified_diff
from appdock.git.refnames import is_hex_hash, is_valid_ref_name
from appdock.git.repo import (
    EMPTY_TREE,
    ZERO,
    Commit,
    FileChange,
    GitError,
    GitRepo,
    Identity,
    PathNotFound,
    Person,
    Ref,
    RefConflict,
    RefUpdate,
    RevisionNotFound,
    TreeEntry,
    Worktree,
    git_env,
    normalize_path,
)

__all__ = [
    "EMPTY_TREE",
    "ZERO",
    "Commit",
    "DiffLine",
    "FileChange",
    "FileDiff",
    "GitError",
    "GitRepo",
    "Hunk",
    "Identity",
    "PathNotFound",
    "Person",
    "Ref",
    "RefConflict",
    "RefUpdate",
    "RevisionNotFound",
    "TreeEntry",
    "Worktree",
    "git_env",
    "is_hex_hash",
    "is_valid_ref_name",
    "normalize_path",
    "parse_unified_diff",
]
