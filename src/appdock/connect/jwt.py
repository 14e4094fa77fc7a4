"""Connect JWTs: the query string hash, host→app tokens, and verification of app→host tokens.

Every JWT is compact JWS, HS256 only (``alg: none`` and every other algorithm are refused), signed
with the installation's shared secret (UTF-8 bytes). Times are seconds since the epoch.

The query string hash binds a token to one request (connect-spec §6.4)::

    qsh = sha256_hex(METHOD & CANONICAL_URI & CANONICAL_QUERY)

computed from the **raw** request path as it went over the wire (percent-encoded, never decoded),
with the receiver's base path stripped.

    >>> canonical_request("GET", "/2.0/repositories/acme/widget/pullrequests?state=OPEN&pagelen=50")
    'GET&/2.0/repositories/acme/widget/pullrequests&pagelen=50&state=OPEN'

Host → app tokens (iframes, webhooks, lifecycle callbacks, redirects): ``iss`` = ``aud`` =
clientKey, ``sub`` = the viewing user's uuid (with braces) when there is one, ``iat``, ``exp`` =
``iat`` + 180 s, ``qsh`` over the request relative to the app's baseUrl path.

App → host tokens (REST calls): ``iss`` = app key, ``sub`` = clientKey, ``exp`` (checked with 60 s
leeway), ``qsh`` required. :func:`verify_app_token` raises :class:`JwtRefused` whose ``check`` and
message name the failed check; the message of a qsh mismatch includes the canonical request(s) the
host computed, so an app author can compare with their own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import jwt as pyjwt

ALGORITHM = "HS256"
HOST_TOKEN_LIFETIME = 180
LEEWAY = 60

Check = Literal[
    "format", "algorithm", "claims", "client_key", "issuer", "signature", "expired", "qsh"
]


class JwtRefused(Exception):
    """A token that does not check out. ``check`` names the failed check."""

    def __init__(self, check: Check, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.message = message


# query string hash -------------------------------------------------------------------------------
def _encode(value: str) -> str:
    """RFC 3986 unreserved-only percent encoding (uppercase hex); space is %20."""
    return quote(value, safe="~")


def canonical_uri(path: str, base_path: str = "") -> str:
    """The canonical URI of a raw (still percent-encoded) path, relative to ``base_path``."""
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :]
    path = (path or "/").replace("&", "%26")
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


def canonical_query(query: str | Mapping[str, str | Iterable[str]]) -> str:
    """Sorted, re-encoded parameters without ``jwt``; repeated keys' values joined by commas."""
    params: dict[str, list[str]] = {}
    if isinstance(query, str):
        for key, value in parse_qsl(query, keep_blank_values=True):
            params.setdefault(key, []).append(value)
    else:
        for key, values in query.items():
            params.setdefault(key, []).extend([values] if isinstance(values, str) else values)
    params.pop("jwt", None)
    return "&".join(
        _encode(key) + "=" + ",".join(_encode(v) for v in sorted(params[key]))
        for key in sorted(params)
    )


def canonical_request(method: str, url: str, base_path: str = "") -> str:
    """``METHOD&URI&QUERY`` for a URL (absolute, or a raw path with an optional query)."""
    parts = urlsplit(url)
    return f"{method.upper()}&{canonical_uri(parts.path, base_path)}&{canonical_query(parts.query)}"


def canonical_parts(method: str, raw_path: str, query: str, base_path: str = "") -> str:
    """The canonical request from an already split raw path and raw query string."""
    return f"{method.upper()}&{canonical_uri(raw_path, base_path)}&{canonical_query(query)}"


def hash_canonical(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def qsh(method: str, url: str, base_path: str = "") -> str:
    return hash_canonical(canonical_request(method, url, base_path))


def query_string_hash(method: str, url: str, base_path: str = "") -> str:
    """The same as :func:`qsh` (the name the UI module code uses)."""
    return qsh(method, url, base_path)


# signing -----------------------------------------------------------------------------------------
def sign(claims: Mapping[str, Any], secret: str) -> str:
    return pyjwt.encode(dict(claims), secret, algorithm=ALGORITHM)


def host_claims(
    *,
    client_key: str,
    method: str,
    url: str,
    app_base_url: str,
    user_uuid: str | None = None,
    lifetime: int = HOST_TOKEN_LIFETIME,
    now: int | None = None,
) -> dict[str, Any]:
    """Claims of a host → app token for ``method url`` (``url`` absolute, as sent)."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": client_key,
        "aud": client_key,
        "iat": issued,
        "exp": issued + lifetime,
        "qsh": qsh(method, url, urlsplit(app_base_url).path),
    }
    if user_uuid:
        claims["sub"] = user_uuid
    return claims


def host_token(
    *,
    client_key: str,
    shared_secret: str,
    method: str,
    url: str,
    app_base_url: str,
    user_uuid: str | None = None,
    lifetime: int = HOST_TOKEN_LIFETIME,
    now: int | None = None,
) -> str:
    """A signed host → app token. ``url`` must be the exact URL the request goes to."""
    return sign(
        host_claims(
            client_key=client_key,
            method=method,
            url=url,
            app_base_url=app_base_url,
            user_uuid=user_uuid,
            lifetime=lifetime,
            now=now,
        ),
        shared_secret,
    )


def sign_host_token(
    *,
    client_key: str,
    shared_secret: str,
    method: str,
    url: str,
    base_path: str,
    subject: str | None,
    now: int | None = None,
    lifetime: int = HOST_TOKEN_LIFETIME,
) -> str:
    """:func:`host_token` for callers that already hold the app's base *path*."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": client_key,
        "aud": client_key,
        "iat": issued,
        "exp": issued + lifetime,
        "qsh": qsh(method, url, base_path),
    }
    if subject:
        claims["sub"] = subject
    return sign(claims, shared_secret)


def signed_url(
    url: str,
    *,
    client_key: str,
    shared_secret: str,
    app_base_url: str,
    user_uuid: str | None = None,
    extra_params: Mapping[str, str] | None = None,
    now: int | None = None,
) -> str:
    """``url`` (absolute) with ``extra_params`` and a ``jwt`` for a GET appended, e.g. an iframe
    ``src`` or a post-install redirect. The qsh covers every parameter except ``jwt``."""
    if extra_params:
        url += ("&" if urlsplit(url).query else "?") + urlencode(dict(extra_params))
    token = host_token(
        client_key=client_key,
        shared_secret=shared_secret,
        method="GET",
        url=url,
        app_base_url=app_base_url,
        user_uuid=user_uuid,
        now=now,
    )
    return url + ("&" if urlsplit(url).query else "?") + "jwt=" + token


# verification ------------------------------------------------------------------------------------
def _b64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token without checking anything but its shape and algorithm."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtRefused("format", "JWT: malformed token (expected three dot-separated parts)")
    try:
        header = _b64json(parts[0])
        claims = _b64json(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise JwtRefused("format", "JWT: malformed token (header or claims are not JSON)") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtRefused("format", "JWT: malformed token (header or claims are not objects)")
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise JwtRefused("algorithm", f"JWT: algorithm {alg!r} is not accepted; sign with HS256")
    return header, claims


def verify_signature(token: str, secret: str) -> dict[str, Any]:
    """Claims of a token whose HS256 signature checks out with ``secret``; nothing else checked."""
    try:
        claims: dict[str, Any] = pyjwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except pyjwt.InvalidSignatureError as exc:
        raise JwtRefused("signature", "JWT: bad signature") from exc
    except pyjwt.PyJWTError as exc:
        raise JwtRefused("format", f"JWT: {exc}") from exc
    return claims


def check_expiry(
    claims: Mapping[str, Any], *, leeway: int = LEEWAY, now: float | None = None
) -> None:
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise JwtRefused("claims", "JWT: missing or non-numeric 'exp' claim")
    current = time.time() if now is None else now
    if current > exp + leeway:
        raise JwtRefused(
            "expired",
            f"JWT: expired at {int(exp)} (now {int(current)}, {leeway} s leeway allowed)",
        )


def check_qsh(claims: Mapping[str, Any], canonicals: list[str]) -> str:
    """The canonical request that matches the token's qsh; raises naming what was computed."""
    value = claims.get("qsh")
    if not isinstance(value, str) or not value:
        raise JwtRefused("qsh", "JWT: missing 'qsh' claim (the query string hash is required)")
    for canonical in canonicals:
        if hash_canonical(canonical) == value.lower():
            return canonical
    computed = " or ".join(repr(c) for c in canonicals)
    raise JwtRefused(
        "qsh",
        f"JWT: qsh mismatch; the host computed the canonical request {computed} and its "
        "SHA-256 differs from the token's qsh",
    )


@dataclass(frozen=True)
class AppTokenClaims:
    """The unverified identity claims of an app → host token, for looking up the installation."""

    issuer: str
    client_key: str
    claims: dict[str, Any]


def read_app_token(token: str) -> AppTokenClaims:
    """Shape, algorithm and the ``iss``/``sub`` claims of an app → host token (unverified)."""
    _header, claims = decode_unverified(token)
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise JwtRefused(
            "claims",
            "JWT: missing 'sub' claim; it must be the clientKey of the installation "
            "('iss' is the app key)",
        )
    if not isinstance(iss, str) or not iss:
        raise JwtRefused("claims", "JWT: missing 'iss' claim; it must be the app key")
    return AppTokenClaims(issuer=iss, client_key=sub, claims=claims)


def verify_app_token(
    token: str,
    *,
    secret: str,
    canonicals: list[str],
    leeway: int = LEEWAY,
    now: float | None = None,
) -> dict[str, Any]:
    """Signature, expiry and qsh of an app → host token whose installation was already found
    from :func:`read_app_token`. ``canonicals`` are the canonical requests the token may cover."""
    claims = verify_signature(token, secret)
    check_expiry(claims, leeway=leeway, now=now)
    check_qsh(claims, canonicals)
    return claims
