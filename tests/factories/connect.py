"""Typed factories for the app platform: descriptors, installations made directly in the database,
and app → host tokens as atlassian-connect-express makes them."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt as pyjwt
from atlassian_jwt.url_utils import hash_url
from sqlalchemy.orm import Session

from appdock.connect.service import client_key_for
from appdock.core import crypto
from appdock.core.scopes import ALL_SCOPES, format_scopes, parse_scopes
from appdock.models import AppClientKey, Installation, User, Workspace
from tests.factories.account import SECRET


def descriptor(key: str = "com.example.app", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "name": "Example app",
        "description": "An example",
        "vendor": {"name": "Example Ltd", "url": "https://example.com"},
        "baseUrl": "https://app.example.com",
        "authentication": {"type": "jwt"},
        "lifecycle": {"installed": "/installed", "uninstalled": "/uninstalled"},
        "scopes": ["account", "repository"],
        "contexts": ["account"],
        "modules": {},
    }
    data.update(overrides)
    return data


def make_installation(
    db: Session,
    workspace: Workspace,
    installed_by: User | None = None,
    *,
    key: str = "com.example.app",
    scopes: str | None = "account repository",
    raw: dict[str, Any] | None = None,
) -> tuple[Installation, str]:
    """An installation as a successful install leaves it (``scopes=None``: the descriptor names
    none, so all are granted). Returns it and its plain shared secret."""
    raw = dict(raw) if raw is not None else descriptor(key)
    if scopes is None:
        raw.pop("scopes", None)
        granted = format_scopes(ALL_SCOPES)
    else:
        raw["scopes"] = scopes.split()
        granted = format_scopes(parse_scopes(scopes))
    secret = secrets.token_urlsafe(48)
    enc = crypto.encrypt(SECRET, secret)
    client_key = client_key_for(workspace, key)
    inst = Installation(
        app_key=key,
        client_key=client_key,
        shared_secret=enc,
        workspace_id=workspace.id,
        installed_by_user_id=installed_by.id if installed_by else None,
        name=str(raw.get("name", key)),
        descriptor=raw,
        descriptor_url=str(raw.get("baseUrl", "")) + "/atlassian-connect.json",
        base_url=str(raw.get("baseUrl", "")),
        scopes=granted,
    )
    db.add(inst)
    db.add(
        AppClientKey(app_key=key, workspace_id=workspace.id, client_key=client_key, last_secret=enc)
    )
    db.commit()
    return inst, secret


def app_jwt(
    *,
    app_key: str,
    client_key: str,
    secret: str,
    method: str = "GET",
    path: str = "/2.0/workspaces",
    exp_in: int = 180,
    qsh: str | None = None,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """An app → host token the way atlassian-connect-express builds one for Bitbucket."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": app_key,
        "sub": client_key,
        "iat": now,
        "exp": now + exp_in,
        "qsh": qsh if qsh is not None else hash_url(method, path),
    }
    body.update(claims)
    if algorithm == "none":
        return pyjwt.encode(body, None, algorithm="none")
    return pyjwt.encode(body, secret, algorithm=algorithm)


def jwt_header(token: str) -> dict[str, str]:
    return {"Authorization": f"JWT {token}"}
