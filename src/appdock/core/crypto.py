"""Tokens and secrets.

Secrets handed to people or apps carry an ``adk_<kind>_`` prefix so a leaked value names itself;
at rest only an HMAC-SHA256 of the value (keyed by the instance secret) is stored, so a database
dump reveals nothing usable. Passwords chosen by people are hashed with Argon2id.
Values that must be read back (app shared secrets) are encrypted with Fernet under a key derived
from the instance secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(kind: str, nbytes: int = 32) -> str:
    """A fresh secret such as ``adk_app_Xq...``."""
    return f"adk_{kind}_{secrets.token_urlsafe(nbytes)}"


def token_hash(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"appdock-at-rest:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(secret_key: str, value: str) -> str:
    try:
        return _fernet(secret_key).decrypt(value.encode()).decode()
    except InvalidToken as exc:  # the instance secret changed since the value was written
        raise ValueError("stored secret cannot be decrypted with the current secret key") from exc
