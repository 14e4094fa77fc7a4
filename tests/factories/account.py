"""Typed factories for the account domain. Each commits, so the app under test sees the rows."""

from __future__ import annotations

import base64
import itertools

from sqlalchemy.orm import Session

from appdock.account.service import AccountService
from appdock.models import User, Workspace

SECRET = "test-secret-" + "x" * 20
PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def service(db: Session) -> AccountService:
    return AccountService(db, SECRET)


def make_user(db: Session, username: str | None = None, *, admin: bool = False, **kw: str) -> User:
    username = username or f"user{next(_seq)}"
    user = service(db).create_user(
        username,
        kw.pop("password", PASSWORD),
        email=f"{username}@example.test",
        is_admin=admin,
        **kw,  # type: ignore[arg-type]
    )
    db.commit()
    return user


def make_team(
    db: Session, slug: str, owner: User, *members: User, name: str | None = None
) -> Workspace:
    svc = service(db)
    ws = svc.create_team(slug, name or slug.title(), owner)
    for m in members:
        svc.add_member(ws, m)
    db.commit()
    return ws


def make_app_password(db: Session, user: User, scopes: str) -> str:
    created = service(db).create_app_password(user, "test", scopes)
    db.commit()
    return created.secret


def basic(username: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
