"""The caller of a request, whatever the credential.

An installation acts as its principal account: a team installation has ``workspace_id`` and no
``user_id``; a user installation acts as that user. ``scopes`` is the closure of what the
credential was granted, or None for credentials that carry the account's full rights (a browser
session, an account password on git).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from appdock.core.errors import Forbidden
from appdock.core.scopes import Scope, closure

Kind = Literal["anonymous", "session", "password", "app_password", "installation", "oauth"]


@dataclass(frozen=True)
class AuthSubject:
    kind: Kind
    user_id: int | None = None
    username: str | None = None
    workspace_id: int | None = None
    scopes: frozenset[Scope] | None = None
    installation_id: int | None = None
    app_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def anonymous(cls) -> AuthSubject:
        return cls(kind="anonymous")

    @classmethod
    def limited(cls, kind: Kind, scopes: frozenset[Scope], **kw: object) -> AuthSubject:
        return cls(kind=kind, scopes=closure(scopes), **kw)  # type: ignore[arg-type]

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    def has_scope(self, scope: Scope) -> bool:
        return self.scopes is None or scope in self.scopes

    def require_scope(self, scope: Scope) -> None:
        if not self.has_scope(scope):
            raise Forbidden(
                f"this credential lacks the {scope.value!r} scope",
                scope=scope.value,
                detail=f"Grant the {scope.value!r} scope to the app password, app or token.",
            )
