"""Context parameters: ``{dotted.path}`` in module URLs, filled from REST 2.0 shaped objects.

Rules (connect-spec.md §2.2):

* a parameter's first segment names a root object (``repository``, ``pullrequest``...), the rest
  walks that object's REST 2.0 JSON (``repository.owner.uuid``);
* a root is visible only when the installation's scope closure holds the scope paired with it
  (:data:`ROOT_SCOPES`); ``app`` needs none;
* values are expanded as RFC 6570 simple expansion: everything but unreserved characters is
  percent-encoded (``{`` → ``%7B``, ``/`` → ``%2F``, space → ``%20``);
* a parameter that cannot be resolved (no such root on this page, missing scope, missing field,
  not a scalar) becomes the empty string and is reported in :attr:`Substitution.dropped`, so an
  admin can see why an app got an empty value (pain point 11);
* legacy flat names (``{repo_path}``, ``{file_cset}``...) map onto dotted paths
  (:data:`LEGACY_NAMES`).

    >>> page = {"repository": {"full_name": "acme/widget"}}
    >>> substitute("/panel?repo={repository.full_name}", page, frozenset({Scope.REPOSITORY})).url
    '/panel?repo=acme%2Fwidget'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from appdock.core.scopes import Scope

PageObjects = Mapping[str, Mapping[str, Any]]
"""Root name → the REST 2.0 JSON of that object on the current page."""

ROOT_SCOPES: dict[str, Scope | None] = {
    "user": Scope.ACCOUNT,
    "target_user": Scope.ACCOUNT,
    "workspace": Scope.ACCOUNT,
    "principal": Scope.ACCOUNT,
    "repository": Scope.REPOSITORY,
    "branch": Scope.REPOSITORY,
    "commit": Scope.REPOSITORY,
    "file": Scope.REPOSITORY,
    "directory": Scope.REPOSITORY,
    "pullrequest": Scope.PULLREQUEST,
    "snippet": Scope.SNIPPET,
    "issue": Scope.ISSUE,
    "app": None,
}

LEGACY_NAMES: dict[str, str] = {
    # Documented in §2.2 (old ACE templates, fileViews of old apps).
    "repo_path": "repository.full_name",
    "file_cset": "file.commit.hash",
    "file_path": "file.path",
    # The same family, mapped by their obvious meaning [INF].
    "repo_uuid": "repository.uuid",
    "repo_name": "repository.name",
    "file_name": "file.name",
    "branch_name": "branch.name",
    "branch_resolved_hash": "branch.target.hash",
    "commit_hash": "commit.hash",
    "pullrequest_id": "pullrequest.id",
}

_PARAMETER = re.compile(r"\{([A-Za-z0-9_][A-Za-z0-9_.\-]*)\}")


class DropReason(StrEnum):
    UNKNOWN_ROOT = "unknown_root"
    MISSING_SCOPE = "missing_scope"
    NOT_ON_PAGE = "not_on_page"
    MISSING_FIELD = "missing_field"
    NOT_A_VALUE = "not_a_value"


@dataclass(frozen=True)
class DroppedParameter:
    name: str  # as written in the template, e.g. "repository.owner.uuid" or "repo_path"
    reason: DropReason
    detail: str

    def message(self) -> str:
        return f"{{{self.name}}} was left empty: {self.detail}"


@dataclass(frozen=True)
class Substitution:
    url: str
    dropped: tuple[DroppedParameter, ...]


class Unresolved(LookupError):
    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def root_visible(root: str, scopes: frozenset[Scope]) -> bool:
    """Whether an installation with this scope closure may see ``root`` (§2.2 table)."""
    if root not in ROOT_SCOPES:
        return False
    needed = ROOT_SCOPES[root]
    return needed is None or needed in scopes


def resolve_path(path: str, objects: PageObjects, scopes: frozenset[Scope]) -> Any:
    """The raw JSON value at ``root.a.b`` (list indexes allowed: ``values.0.name``).

    Raises :class:`Unresolved` naming why the value is not available. Shared with the
    ``equals``/``contains`` conditions so both see the same objects under the same scope rules.
    """
    root, _, rest = path.partition(".")
    if root not in ROOT_SCOPES:
        raise Unresolved(DropReason.UNKNOWN_ROOT, f'"{root}" is not a context object')
    needed = ROOT_SCOPES[root]
    if needed is not None and needed not in scopes:
        raise Unresolved(
            DropReason.MISSING_SCOPE, f'the app lacks the "{needed.value}" scope for {root}'
        )
    if root not in objects:
        raise Unresolved(DropReason.NOT_ON_PAGE, f"this page shows no {root}")
    value: Any = objects[root]
    walked = root
    for segment in rest.split(".") if rest else ():
        walked += "." + segment
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list | tuple) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            raise Unresolved(DropReason.MISSING_FIELD, f"{walked} does not exist")
    return value


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def expand_value(value: Any) -> str | None:
    """RFC 6570 simple expansion of one value; ``None`` when it cannot be expanded.

    Scalars are encoded whole; a list of scalars becomes ``a,b``; an object of scalars
    becomes ``k1,v1,k2,v2`` (RFC 6570 §3.2.2, unexploded).
    """
    text = _scalar_text(value)
    if text is not None:
        return quote(text, safe="")
    items: list[str] = []
    if isinstance(value, list | tuple):
        for item in value:
            part = _scalar_text(item)
            if part is None:
                return None
            items.append(quote(part, safe=""))
        return ",".join(items)
    if isinstance(value, Mapping):
        for key, item in value.items():
            part = _scalar_text(item)
            if part is None:
                return None
            items.extend((quote(str(key), safe=""), quote(part, safe="")))
        return ",".join(items)
    return None


def canonical_name(name: str) -> str:
    """The dotted path a template parameter stands for (legacy flat names mapped)."""
    return LEGACY_NAMES.get(name, name)


def substitute(template: str, objects: PageObjects, scopes: frozenset[Scope]) -> Substitution:
    """Fill every ``{parameter}`` of ``template``; unresolvable ones become ``""``."""
    dropped: list[DroppedParameter] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        path = canonical_name(name)
        try:
            value = resolve_path(path, objects, scopes)
        except Unresolved as exc:
            dropped.append(DroppedParameter(name, exc.reason, exc.detail))
            return ""
        expanded = expand_value(value)
        if expanded is None:
            dropped.append(
                DroppedParameter(name, DropReason.NOT_A_VALUE, f"{path} is not a plain value")
            )
            return ""
        return expanded

    return Substitution(_PARAMETER.sub(replace, template), tuple(dropped))


def parameters(template: str) -> tuple[str, ...]:
    """The parameter names a template uses, in order (for install-time warnings)."""
    return tuple(m.group(1) for m in _PARAMETER.finditer(template))
