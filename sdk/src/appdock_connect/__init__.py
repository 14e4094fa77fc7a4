"""appdock-connect: the app side of Atlassian Connect for Bitbucket Cloud and appdock.

Public surface:

- :class:`ConnectApp` - lifecycle callbacks, request verification, signed API clients;
- :class:`Tenant`, :class:`TenantStore`, :class:`MemoryTenantStore`, :class:`JSONFileTenantStore`;
- :class:`RequestContext`, :class:`WebhookEvent`;
- :func:`canonical_request`, :func:`query_string_hash` - the qsh algorithm;
- errors: :class:`ConnectError` and its subclasses.
"""

from appdock_connect._app import ConnectApp, RequestContext, WebhookEvent
from appdock_connect._errors import (
    ConnectError,
    InstallRefused,
    TokenInvalid,
    UnknownTenant,
)
from appdock_connect._qsh import canonical_request, query_string_hash
from appdock_connect._tenants import JSONFileTenantStore, MemoryTenantStore, Tenant, TenantStore

__all__ = [
    "ConnectApp",
    "ConnectError",
    "InstallRefused",
    "JSONFileTenantStore",
    "MemoryTenantStore",
    "RequestContext",
    "Tenant",
    "TenantStore",
    "TokenInvalid",
    "UnknownTenant",
    "WebhookEvent",
    "canonical_request",
    "query_string_hash",
]
__version__ = "0.1.0"
