"""Ref name rules, as ``git check-ref-format`` applies them, so bad names fail before git runs.

>>> is_valid_ref_name("feature/readme")
True
>>> is_valid_ref_name("bad..name")
False
"""

from __future__ import annotations

import re

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
MAX_LENGTH = 255


def is_valid_ref_name(name: str) -> bool:
    """A short branch or tag name (``main``, ``feature/x``, ``v1.0``) git would accept."""
    if not name or len(name) > MAX_LENGTH:
        return False
    if name == "@" or name.startswith(("-", "/")) or name.endswith(("/", ".", ".lock")):
        return False
    if ".." in name or "//" in name or "@{" in name or _FORBIDDEN_CHARS.search(name):
        return False
    if name == "HEAD":
        return False
    for component in name.split("/"):
        if not component or component.startswith(".") or component.endswith(".lock"):
            return False
    return True


def is_hex_hash(value: str) -> bool:
    return 4 <= len(value) <= 64 and all(c in "0123456789abcdef" for c in value)
