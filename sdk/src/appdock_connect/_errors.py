"""Exceptions.

ConnectError
 ├── TokenInvalid      a JWT missing, malformed, badly signed, expired or for another request
 ├── UnknownTenant     the token names a clientKey this app has no record of
 └── InstallRefused    an installed/uninstalled callback that must be rejected
"""

from __future__ import annotations


class ConnectError(Exception):
    """Base class; ``str(error)`` is a message fit for a log line or a 401 body."""


class TokenInvalid(ConnectError):
    pass


class UnknownTenant(ConnectError):
    pass


class InstallRefused(ConnectError):
    pass
