"""The on-disk git adapter: bare repositories driven through the ``git`` CLI. No database, no web.

Public surface: :class:`GitRepo` and its value types (:class:`Commit`, :class:`Ref`,
:class:`TreeEntry`, :class:`FileChange`, :class:`RefUpdate`, :class:`Person`, :class:`Identity`),
the errors (:class:`GitError`, :class:`RevisionNotFound`, :class:`PathNotFound`,
:class:`RefConflict`), ref name rules (:func:`is_valid_ref_name`) and the diff parser
(:func:`parse_unified_diff`), and merging without a working tree (:mod:`appdock.git.merge`).
"""

from appdock.git.diff import DiffLine, FileDiff, Hunk, parse_unified_diff
from appdock.git.merge import (
    MergeFailed,
    MergeResult,
    Quarantine,
    commit_tree,
    fetch_ref,
    hide_refs,
    merge_trees,
    quarantine,
    tree_of,
)
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
    "MergeFailed",
    "MergeResult",
    "PathNotFound",
    "Person",
    "Quarantine",
    "Ref",
    "RefConflict",
    "RefUpdate",
    "RevisionNotFound",
    "TreeEntry",
    "Worktree",
    "commit_tree",
    "fetch_ref",
    "git_env",
    "hide_refs",
    "is_hex_hash",
    "is_valid_ref_name",
    "merge_trees",
    "normalize_path",
    "parse_unified_diff",
    "quarantine",
    "tree_of",
]
