"""Host → app iframe tokens for the UI module code: the shared primitives of
:mod:`appdock.connect.jwt` (canonical request, query string hash, HS256 host tokens), re-exported
under the names this package was written against.

    >>> canonical_request("GET", "/bb/panel?b=2&a=1&jwt=x", base_path="/bb")
    'GET&/panel&a=1&b=2'
"""

from __future__ import annotations

from appdock.connect.jwt import (
    HOST_TOKEN_LIFETIME as TOKEN_LIFETIME_SECONDS,
)
from appdock.connect.jwt import (
    canonical_request,
    query_string_hash,
    sign_host_token,
)

__all__ = [
    "TOKEN_LIFETIME_SECONDS",
    "canonical_request",
    "query_string_hash",
    "sign_host_token",
]
