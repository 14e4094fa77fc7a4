"""Parse git's unified diff into files, hunks and numbered lines for rendering.

The text stays text: the renderer (Jinja, autoescaped) is responsible for escaping.

    >>> files = parse_unified_diff(repo.diff(parent, commit))
    >>> files[0].new_path, files[0].hunks[0].lines[0].kind
    ('README.md', 'context')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


@dataclass
class DiffLine:
    kind: str  # "context" | "add" | "del" | "note"
    text: str
    old_no: int | None = None
    new_no: int | None = None


@dataclass
class Hunk:
    header: str
    lines: list[DiffLine] = field(default_factory=list)


@dataclass
class FileDiff:
    old_path: str | None = None
    new_path: str | None = None
    status: str = "modified"  # added | removed | modified | renamed
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    mode_change: str | None = None

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def _strip_prefix(value: str) -> str | None:
    value = value.strip()
    if value == "/dev/null":
        return None
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        value = value.encode("latin-1", "replace").decode("utf-8", "replace")
    if value[:2] in ("a/", "b/"):
        return value[2:]
    return value


def parse_unified_diff(text: str, *, max_lines: int | None = None) -> list[FileDiff]:
    """Files of a ``git diff`` output. With ``max_lines``, hunk lines beyond the budget are
    dropped (a file keeps its header and counts) so huge diffs stay renderable."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    old_no = new_no = 0
    budget = max_lines
    for raw in text.split("\n"):
        if raw.startswith("diff --git "):
            current = FileDiff()
            files.append(current)
            hunk = None
            m = re.match(r"^diff --git (\"?a/.+?\"?) (\"?b/.+\"?)$", raw)
            if m:
                current.old_path = _strip_prefix(m.group(1))
                current.new_path = _strip_prefix(m.group(2))
            continue
        if current is None:
            continue
        if hunk is None:
            if raw.startswith("new file mode"):
                current.status = "added"
            elif raw.startswith("deleted file mode"):
                current.status = "removed"
            elif raw.startswith("rename from "):
                current.status = "renamed"
                current.old_path = raw[len("rename from ") :]
            elif raw.startswith("rename to "):
                current.new_path = raw[len("rename to ") :]
            elif raw.startswith("old mode "):
                current.mode_change = raw[len("old mode ") :]
            elif raw.startswith("new mode ") and current.mode_change:
                current.mode_change += " → " + raw[len("new mode ") :]
            elif raw.startswith("Binary files ") or raw.startswith("GIT binary patch"):
                current.binary = True
            elif raw.startswith("--- "):
                path = _strip_prefix(raw[4:])
                if path is None:
                    current.status = "added"
                    current.old_path = None
            elif raw.startswith("+++ "):
                path = _strip_prefix(raw[4:])
                if path is None:
                    current.status = "removed"
                    current.new_path = None
        m = _HUNK.match(raw)
        if m:
            old_no, new_no = int(m.group(1)), int(m.group(3))
            hunk = Hunk(header=raw)
            current.hunks.append(hunk)
            continue
        if hunk is None:
            continue
        if not raw:
            continue
        marker, body = raw[0], raw[1:]
        line: DiffLine | None = None
        if marker == "+":
            current.added += 1
            line = DiffLine("add", body, None, new_no)
            new_no += 1
        elif marker == "-":
            current.removed += 1
            line = DiffLine("del", body, old_no, None)
            old_no += 1
        elif marker == " ":
            line = DiffLine("context", body, old_no, new_no)
            old_no += 1
            new_no += 1
        elif marker == "\\":
            line = DiffLine("note", raw)
        if line is not None and (budget is None or budget > 0):
            hunk.lines.append(line)
            if budget is not None:
                budget -= 1
    for f in files:
        if f.status == "added":
            f.old_path = None
        elif f.status == "removed":
            f.new_path = None
        if max_lines is not None:
            f.hunks = [h for h in f.hunks if h.lines]
    return files
