"""The ``installed`` and ``uninstalled`` callbacks: payloads (connect-spec §5.2) and delivery.

Signing follows the table of §5.2: the first install of an app on an account is sent without a
JWT (the app has no secret to check it with); every later ``installed`` (a reinstall, an upgrade,
the first install after an uninstall) is signed with the secret the app received last; an
``uninstalled`` is signed with the current secret. Tokens carry ``iss`` = ``aud`` = clientKey and
a qsh over ``POST`` and the callback path relative to the app's baseUrl path.

Nothing here touches the database; the install flow commits around these calls.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from appdock.connect import jwt
from appdock.core.http import OutboundClient, OutboundResponse

CALLBACK_TIMEOUT = 10.0
USER_AGENT = "appdock-connect/1.0 (Bitbucket Connect compatible)"


def public_key(client_key: str) -> str:
    """The legacy ``publicKey`` field: apps only store it (Sentry keys its install path on its
    presence), so any stable non-empty string does."""
    digest = hashlib.sha256(b"appdock-connect-public-key:" + client_key.encode()).digest()
    return base64.b64encode(digest).decode()


def payload(
    event: str,
    *,
    app_key: str,
    client_key: str,
    shared_secret: str | None,
    base_url: str,
    principal: dict[str, Any],
    user: dict[str, Any] | None,
) -> dict[str, Any]:
    """A lifecycle payload with every field real apps read. ``base_url`` is the host's web root;
    ``baseApiUrl`` is ``{base_url}/api`` (apps append ``/2.0/...``)."""
    body: dict[str, Any] = {
        "key": app_key,
        "clientKey": client_key,
        "publicKey": public_key(client_key),
        "baseUrl": base_url,
        "baseApiUrl": base_url.rstrip("/") + "/api",
        "productType": "bitbucket",
        "eventType": event,
        "principal": principal,
    }
    if shared_secret is not None:
        body["sharedSecret"] = shared_secret
    if user is not None:
        body["user"] = user
        body["actor"] = user
    return body


def send(
    client: OutboundClient,
    *,
    url: str,
    body: dict[str, Any],
    client_key: str,
    sign_secret: str | None,
    app_base_url: str,
) -> OutboundResponse:
    """POST a lifecycle payload, signed with ``sign_secret`` when given. Raises
    :class:`~appdock.core.http.OutboundError` when the request cannot be made; a non-2xx answer is
    returned (``response.ok`` is False) for the caller to judge."""
    url = str(httpx.URL(url))  # sign exactly what goes on the wire
    headers = {"User-Agent": USER_AGENT}
    if sign_secret is not None:
        token = jwt.host_token(
            client_key=client_key,
            shared_secret=sign_secret,
            method="POST",
            url=url,
            app_base_url=app_base_url,
        )
        headers["Authorization"] = f"JWT {token}"
    return client.post_json(url, body, purpose=f"{body['eventType']} callback", headers=headers)
