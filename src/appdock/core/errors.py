"""The error hierarchy. Every error carries an HTTP status and a message fit for a user.

    AppdockError                 500 unless a subclass says otherwise
     ├── BadRequest              400  input that cannot be accepted; ``field`` names where
     ├── Unauthorized            401  no credentials, or credentials that do not check out
     ├── Forbidden               403  known caller, not allowed; ``scope`` names a missing scope
     ├── NotFound                404  absent, or present but invisible to the caller
     ├── Conflict                409  clashes with the current state (duplicate, merge conflict)
     ├── PayloadTooLarge         413
     └── UpstreamError           502  an app or remote service answered badly

Web pages render them as messages, the REST API as Bitbucket's error envelope, the CLI as one
line on stderr.
"""

from __future__ import annotations


class AppdockError(Exception):
    status_code = 500

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        field: str | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.field = field
        self.data = data or {}

    def __str__(self) -> str:
        return self.message


class BadRequest(AppdockError):
    status_code = 400


class Unauthorized(AppdockError):
    status_code = 401


class Forbidden(AppdockError):
    status_code = 403

    def __init__(self, message: str, *, scope: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.scope = scope


class NotFound(AppdockError):
    status_code = 404


class Conflict(AppdockError):
    status_code = 409


class PayloadTooLarge(AppdockError):
    status_code = 413


class UpstreamError(AppdockError):
    status_code = 502
