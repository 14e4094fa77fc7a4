"""Module conditions, evaluated on the server when a page is built (connect-spec.md §2.3).

A condition is the descriptor's JSON, unchanged:

* simple: ``{"condition": name, "invert": bool, "params": {...}, "target": "dotted.path"}``;
* composition: ``{"type": "and"|"AND"|"or"|"OR", "conditions": [...]}``, nestable;
* a module's ``conditions`` list is AND-ed.

Invariants: an unknown or malformed condition is **false** (the module is hidden); a condition
that needs a scope the installation lacks (§2.3 "condition ⇒ scope") is false; every decision is
recorded as a :class:`Decision` so an admin debug view can show why a module was shown or hidden.
Conditions short-circuit, so decisions hold only the conditions that were evaluated.

    >>> ctx = EvaluationContext(logged_in=True, repo_permission=Permission.WRITE)
    >>> ok, log = evaluate_module(
    ...     "m", [{"condition": "has_permission", "params": {"permission": "admin"}}],
    ...     ctx, app_key="a", scopes=frozenset({Scope.REPOSITORY}))
    >>> ok, log[-1].reason
    (False, 'the viewer has write on the repository; admin is needed')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from appdock.connect.ui.context import PageObjects, Unresolved, resolve_path
from appdock.core.scopes import Scope


class Permission(IntEnum):
    """The viewer's level on a repository or workspace; higher includes lower."""

    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3


_PERMISSION_NAMES: dict[str, Permission] = {
    "read": Permission.READ,
    "member": Permission.READ,
    "collaborator": Permission.WRITE,
    "write": Permission.WRITE,
    "admin": Permission.ADMIN,
    "owner": Permission.ADMIN,
}

# (app_key, target root, property key) -> whether the app stored that property on the object.
PropertyLookup = Callable[[str, str, str], bool]
# path in the repository at the page's revision -> whether that file exists.
FileLookup = Callable[[str], bool]


@dataclass(frozen=True)
class EvaluationContext:
    """What the conditions may know about the viewer and the page. Built once per page.

    ``objects`` are the same REST 2.0 dicts as the context parameters (``equals``/``contains``
    targets resolve into them under the same scope rules). ``None`` means "not on this page".
    """

    logged_in: bool = False
    repo_permission: Permission | None = None
    workspace_permission: Permission | None = None
    repo_private: bool | None = None
    scm: str | None = None
    file_is_binary: bool | None = None
    user_has_premium: bool = False
    objects: PageObjects = field(default_factory=dict)
    installed_apps: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()
    property_exists: PropertyLookup | None = None
    file_exists: FileLookup | None = None


@dataclass(frozen=True)
class Decision:
    module_key: str
    condition: str  # a short readable rendering, e.g. "not has_permission(permission=admin)"
    result: bool
    reason: str
    app_key: str = ""


class _Result:
    __slots__ = ("reason", "value")

    def __init__(self, value: bool, reason: str) -> None:
        self.value = value
        self.reason = reason


Check = Callable[["_Call"], _Result]


@dataclass(frozen=True)
class _Call:
    params: Mapping[str, Any]
    target: str | None
    ctx: EvaluationContext
    app_key: str
    scopes: frozenset[Scope]


def _param(call: _Call, *names: str) -> str | None:
    for name in names:
        value = call.params.get(name)
        if value is not None and value != "":
            return str(value)
    return None


def _permission_check(level: Permission | None, what: str, call: _Call) -> _Result:
    wanted_name = (_param(call, "permission") or "read").lower()
    wanted = _PERMISSION_NAMES.get(wanted_name)
    if wanted is None:
        return _Result(False, f'unknown permission "{wanted_name}"')
    if level is None:
        return _Result(False, f"this page shows no {what}")
    have = level.name.lower()
    if level >= wanted:
        return _Result(True, f"the viewer has {have} on the {what}")
    return _Result(False, f"the viewer has {have} on the {what}; {wanted_name} is needed")


def _has_permission(call: _Call) -> _Result:
    return _permission_check(call.ctx.repo_permission, "repository", call)


def _has_workspace_permission(call: _Call) -> _Result:
    return _permission_check(call.ctx.workspace_permission, "workspace", call)


def _user_is_logged_in(call: _Call) -> _Result:
    return _Result(call.ctx.logged_in, "logged in" if call.ctx.logged_in else "anonymous viewer")


def _is_repo_private(call: _Call) -> _Result:
    if call.ctx.repo_private is None:
        return _Result(False, "this page shows no repository")
    return _Result(call.ctx.repo_private, "private" if call.ctx.repo_private else "public")


def _scm(call: _Call) -> _Result:
    wanted = _param(call, "scm", "value", "type")
    if call.ctx.scm is None:
        return _Result(False, "this page shows no repository")
    if wanted is None:
        return _Result(False, 'params.scm is missing (e.g. {"scm": "git"})')
    ok = call.ctx.scm.lower() == wanted.lower()
    return _Result(ok, f"the repository uses {call.ctx.scm}")


def _user_has_premium(call: _Call) -> _Result:
    ok = call.ctx.user_has_premium
    return _Result(ok, "premium" if ok else "appdock has no premium plans")


def _meets_access_requirements(call: _Call) -> _Result:
    # Bitbucket's workspace access requirements (IP allow-lists, 2FA) do not exist here: every
    # viewer who can see the page meets them.
    return _Result(True, "appdock has no workspace access requirements")


def _has_issue_permission(call: _Call) -> _Result:
    return _Result(False, "appdock has no issue tracker")


def _has_addon(call: _Call) -> _Result:
    key = _param(call, "addon_key", "addonKey", "app_key", "key")
    if key is None:
        return _Result(False, "params.addon_key is missing")
    ok = key in call.ctx.installed_apps
    return _Result(ok, f'app "{key}" is {"" if ok else "not "}installed here')


def _feature(call: _Call) -> _Result:
    name = _param(call, "flag", "feature", "name", "key")
    if name is None:
        return _Result(False, "params.flag / params.feature is missing")
    ok = name in call.ctx.features
    return _Result(ok, f'feature "{name}" is {"on" if ok else "off"}')


def _is_binary(call: _Call) -> _Result:
    if call.ctx.file_is_binary is None:
        return _Result(False, "this page shows no file")
    return _Result(call.ctx.file_is_binary, "binary" if call.ctx.file_is_binary else "text")


def _has_file(call: _Call) -> _Result:
    path = _param(call, "path", "file", "filename", "filepath")
    if path is None:
        return _Result(False, "params.path is missing")
    if call.ctx.file_exists is None:
        return _Result(False, "this page shows no repository")
    ok = call.ctx.file_exists(path)
    return _Result(ok, f"{path} {'exists' if ok else 'does not exist'}")


def _property_exists(call: _Call) -> _Result:
    key = _param(call, "propertyKey", "property_key", "key", "property")
    if key is None:
        return _Result(False, "params.propertyKey is missing")
    root = (call.target or _param(call, "target") or "repository").split(".")[0]
    if root not in call.ctx.objects:
        return _Result(False, f"this page shows no {root}")
    if call.ctx.property_exists is None:
        return _Result(False, "app properties are not available here")
    ok = call.ctx.property_exists(call.app_key, root, key)
    return _Result(ok, f'property "{key}" {"exists" if ok else "does not exist"} on the {root}')


def _target_value(call: _Call) -> Any:
    target = call.target or _param(call, "target")
    if not target:
        raise _TargetMissing('a target is required (e.g. "repository.uuid")')
    try:
        return resolve_path(target, call.ctx.objects, call.scopes)
    except Unresolved as exc:
        raise _TargetMissing(f"target {target}: {exc.detail}") from exc


class _TargetMissing(LookupError):
    pass


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    if isinstance(a, int | float) or isinstance(b, int | float):
        return str(a) == str(b)
    return bool(a == b)


def _equals(call: _Call) -> _Result:
    if "value" not in call.params:
        return _Result(False, "params.value is missing")
    try:
        value = _target_value(call)
    except _TargetMissing as exc:
        return _Result(False, str(exc))
    ok = _same(value, call.params["value"])
    return _Result(ok, f"target is {json.dumps(value, default=str)[:80]}")


def _contains(call: _Call) -> _Result:
    if "value" not in call.params:
        return _Result(False, "params.value is missing")
    wanted = call.params["value"]
    try:
        value = _target_value(call)
    except _TargetMissing as exc:
        return _Result(False, str(exc))
    if isinstance(value, str):
        ok = str(wanted) in value
    elif isinstance(value, Mapping):
        ok = str(wanted) in value or any(_same(v, wanted) for v in value.values())
    elif isinstance(value, list | tuple):
        ok = any(_same(v, wanted) for v in value)
    else:
        return _Result(False, "target is not a string, list or object")
    return _Result(ok, f"target {'contains' if ok else 'does not contain'} {wanted!r}")


@dataclass(frozen=True)
class _Known:
    check: Check
    scope: Scope | None


CONDITIONS: dict[str, _Known] = {
    "has_permission": _Known(_has_permission, Scope.REPOSITORY),
    "has_issue_permission": _Known(_has_issue_permission, Scope.REPOSITORY),
    "property_exists": _Known(_property_exists, Scope.REPOSITORY),
    "has_file": _Known(_has_file, Scope.REPOSITORY),
    "scm": _Known(_scm, Scope.REPOSITORY),
    "has_account_permission": _Known(_has_workspace_permission, Scope.ACCOUNT),
    "has_workspace_permission": _Known(_has_workspace_permission, Scope.ACCOUNT),
    "meets_access_requirements": _Known(_meets_access_requirements, Scope.ACCOUNT),
    "user_has_premium": _Known(_user_has_premium, Scope.ACCOUNT),
    "has_addon": _Known(_has_addon, Scope.ACCOUNT),
    "flag_is_active": _Known(_feature, Scope.ACCOUNT),
    "has_feature": _Known(_feature, Scope.ACCOUNT),
    "is_repo_private": _Known(_is_repo_private, None),
    "user_is_logged_in": _Known(_user_is_logged_in, None),
    "equals": _Known(_equals, None),
    "contains": _Known(_contains, None),
    "is_binary": _Known(_is_binary, None),
}
"""Every supported condition name and the scope the installation needs to use it (§2.3)."""


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def describe(condition: Any) -> str:
    """A short readable form of a condition for the debug view."""
    if not isinstance(condition, Mapping):
        return f"<malformed {type(condition).__name__}>"
    if "conditions" in condition and "condition" not in condition:
        kind = str(condition.get("type", "and")).lower()
        inner = condition.get("conditions")
        parts = [describe(c) for c in inner] if isinstance(inner, list) else ["?"]
        return f"{kind}(" + ", ".join(parts) + ")"
    name = str(condition.get("condition", "?"))
    params = condition.get("params")
    args = ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, Mapping) else ""
    target = condition.get("target")
    if target:
        args = f"target={target}" + (", " + args if args else "")
    text = f"{name}({args})"
    return ("not " + text) if _truthy(condition.get("invert", False)) else text


class _Evaluator:
    def __init__(
        self,
        module_key: str,
        ctx: EvaluationContext,
        app_key: str,
        scopes: frozenset[Scope],
    ) -> None:
        self.module_key = module_key
        self.ctx = ctx
        self.app_key = app_key
        self.scopes = scopes
        self.decisions: list[Decision] = []

    def record(self, condition: Any, result: bool, reason: str) -> bool:
        self.decisions.append(
            Decision(self.module_key, describe(condition), result, reason, self.app_key)
        )
        return result

    def evaluate(self, condition: Any) -> bool:
        if not isinstance(condition, Mapping):
            return self.record(condition, False, "a condition must be an object; hidden")
        if "condition" in condition:
            return self._simple(condition)
        if "conditions" in condition:
            return self._composition(condition)
        return self.record(condition, False, 'neither "condition" nor "conditions"; hidden')

    def _composition(self, condition: Mapping[str, Any]) -> bool:
        kind = str(condition.get("type", "and")).lower()
        inner = condition.get("conditions")
        if kind not in {"and", "or"}:
            return self.record(condition, False, f'unknown composition type "{kind}"; hidden')
        if not isinstance(inner, list):
            return self.record(condition, False, '"conditions" must be a list; hidden')
        if kind == "and":
            result = all(self.evaluate(c) for c in inner)
        else:
            result = any(self.evaluate(c) for c in inner)
        if _truthy(condition.get("invert", False)):
            result = not result
        return self.record(condition, result, f"{kind} of {len(inner)}")

    def _simple(self, condition: Mapping[str, Any]) -> bool:
        name = condition.get("condition")
        known = CONDITIONS.get(name) if isinstance(name, str) else None
        if known is None:
            return self.record(condition, False, f'unknown condition "{name}"; hidden')
        if known.scope is not None and known.scope not in self.scopes:
            return self.record(
                condition, False, f'the app lacks the "{known.scope.value}" scope this needs'
            )
        params = condition.get("params") or {}
        if not isinstance(params, Mapping):
            return self.record(condition, False, '"params" must be an object; hidden')
        target = condition.get("target")
        call = _Call(
            params=params,
            target=str(target) if target else None,
            ctx=self.ctx,
            app_key=self.app_key,
            scopes=self.scopes,
        )
        try:
            outcome = known.check(call)
        except Exception as exc:  # a failing lookup hides the module rather than the page
            return self.record(condition, False, f"evaluation failed: {type(exc).__name__}")
        result = outcome.value
        reason = outcome.reason
        if _truthy(condition.get("invert", False)):
            result = not result
            reason += " (inverted)"
        return self.record(condition, result, reason)


def evaluate_module(
    module_key: str,
    conditions: Sequence[Any],
    ctx: EvaluationContext,
    *,
    app_key: str,
    scopes: frozenset[Scope],
) -> tuple[bool, list[Decision]]:
    """Whether a module with these conditions (AND-ed) is shown, and the decisions made."""
    evaluator = _Evaluator(module_key, ctx, app_key, scopes)
    shown = all(evaluator.evaluate(c) for c in conditions)
    if not conditions:
        evaluator.decisions.append(Decision(module_key, "(none)", True, "no conditions", app_key))
    return shown, evaluator.decisions
