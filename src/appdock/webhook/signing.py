"""What a delivery sends: the body bytes, Bitbucket's headers and the signatures.

Pure functions, no I/O, so the worker, the delivery log (which rebuilds the request it shows) and
the tests share them.

- **Connect deliveries** (a ``webhooks`` module of an installation) wrap the payload as
  ``{"event": key, "data": payload}`` and carry ``Authorization: JWT <token>`` with ``iss`` =
  ``aud`` = clientKey and a ``qsh`` over ``POST`` and the path relative to the app's baseUrl path
  (connect-spec §6.2, §8.1).
- **Plain webhooks** send the bare payload. With a secret they are signed twice: Bitbucket's
  ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret text, body)>``, and Standard Webhooks'
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`` where the key is the
  base64-decoded part after ``whsec_`` for a ``whsec_`` secret, else the secret's UTF-8 bytes.
- Every delivery carries ``X-Event-Key``, ``X-Hook-UUID``, ``X-Request-UUID``,
  ``X-Attempt-Number``, ``X-Event-Time``, ``User-Agent: Bitbucket-Webhooks/2.0``, and the Standard
  Webhooks ``webhook-id`` (the delivery uuid: the same across retries and redeliveries) and
  ``webhook-timestamp``.

    >>> hub_signature("s3cret", b"{}")
    'sha256=...'
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt

from appdock.connect import jwt as connect_jwt

USER_AGENT = "Bitbucket-Webhooks/2.0"
CONNECT_TOKEN_LIFETIME = 180
STANDARD_PREFIX = "whsec_"


@dataclass(frozen=True)
class Target:
    """Where and how one subscription is delivered (plain data copied from its row)."""

    subscription_uuid: str
    url: str
    kind: str  # repository | workspace | connect
    secret: str | None = None  # the webhook secret, or the Connect shared secret
    client_key: str | None = None
    base_url: str | None = None

    @property
    def is_connect(self) -> bool:
        return self.kind == "connect"


def encode_body(target: Target, event_key: str, payload: Mapping[str, Any]) -> bytes:
    """The request body, compact JSON; wrapped as ``{event, data}`` for Connect."""
    document: Any = {"event": event_key, "data": payload} if target.is_connect else payload
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---- plain webhook signatures -----------------------------------------------------------------
def hub_signature(secret: str, body: bytes) -> str:
    """Bitbucket's ``X-Hub-Signature``: HMAC-SHA256 of the body keyed with the secret text."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks key: base64 after ``whsec_``, else the secret's own bytes."""
    if secret.startswith(STANDARD_PREFIX):
        encoded = secret[len(STANDARD_PREFIX) :]
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            return secret.encode("utf-8")
    return secret.encode("utf-8")


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


# ---- Connect JWT ------------------------------------------------------------------------------
def connect_token(
    *, client_key: str, shared_secret: str, url: str, app_base_url: str, now: int | None = None
) -> str:
    """A host → app JWT for ``POST url``: ``iss`` = ``aud`` = clientKey, qsh relative to the
    path of the app's baseUrl, valid for three minutes."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": client_key,
        "aud": client_key,
        "iat": issued,
        "exp": issued + CONNECT_TOKEN_LIFETIME,
        "qsh": connect_jwt.qsh("POST", url, urlsplit(app_base_url).path),
    }
    return pyjwt.encode(claims, shared_secret, algorithm="HS256")


@functools.lru_cache(maxsize=4096)
def http_date(when: datetime) -> str:
    """RFC 1123 date (``X-Event-Time``); cached: the subscriptions of one event share it."""
    return format_datetime(when, usegmt=True)


# ---- headers ----------------------------------------------------------------------------------
def request_headers(
    target: Target,
    *,
    delivery_uuid: str,
    event_key: str,
    event_time: datetime,
    attempt: int,
    body: bytes,
    now: float | None = None,
) -> dict[str, str]:
    """Every header of one attempt, signatures included."""
    timestamp = int(time.time() if now is None else now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Event-Key": event_key,
        "X-Hook-UUID": target.subscription_uuid,
        "X-Request-UUID": delivery_uuid,
        "X-Attempt-Number": str(attempt),
        "X-Event-Time": http_date(event_time),
        "webhook-id": delivery_uuid,
        "webhook-timestamp": str(timestamp),
    }
    if target.is_connect:
        if target.client_key and target.secret:
            token = connect_token(
                client_key=target.client_key,
                shared_secret=target.secret,
                url=target.url,
                app_base_url=target.base_url or target.url,
                now=timestamp,
            )
            headers["Authorization"] = "JWT " + token
    elif target.secret:
        headers["X-Hub-Signature"] = hub_signature(target.secret, body)
        headers["webhook-signature"] = standard_signature(
            target.secret, delivery_uuid, timestamp, body
        )
    return headers


SECRET_HEADERS = frozenset({"authorization"})


def loggable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as stored in the attempt log: the JWT's signature part is masked (the token is
    short-lived, but a log is no place for a bearer credential)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS and value.count(".") == 2:
            head, _, _ = value.rpartition(".")
            out[name] = head + ".<signature>"
        else:
            out[name] = value
    return out
