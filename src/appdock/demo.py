"""``appdock demo``: an idempotent demo for newcomers. Returns the lines to print."""

from __future__ import annotations

import secrets

from appdock.account.service import AccountService
from appdock.cli.common import session_scope
from appdock.config import Settings


def _password(settings: Settings, name: str) -> str:
    """A demo password generated once and kept in DATA_DIR, so reruns print the same one."""
    path = settings.data_dir / f"demo-{name}-password"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12)
    path.write_text(value)
    path.chmod(0o600)
    return value


def seed(settings: Settings) -> list[str]:
    lines: list[str] = []
    admin_pw = _password(settings, "admin")
    bob_pw = _password(settings, "bob")
    with session_scope(settings) as (session, s):
        svc = AccountService(session, s.secret)
        admin = svc.store.user_by_username("admin")
        if admin is None:
            admin = svc.create_user(
                "admin",
                admin_pw,
                email="admin@example.test",
                display_name="Ada Admin",
                is_admin=True,
            )
        else:
            svc.set_password(admin, admin_pw)
        bob = svc.store.user_by_username("bob")
        if bob is None:
            bob = svc.create_user(
                "bob", bob_pw, email="bob@example.test", display_name="Bob Builder"
            )
        acme = svc.store.workspace_by_slug("acme")
        if acme is None:
            acme = svc.create_team("acme", "Acme", admin)
        if svc.role_of(acme, bob.id) is None:
            svc.add_member(acme, bob, "member")
        svc.set_dev_mode(acme, True)
    lines.append(f"demo ready at {settings.base_url}")
    lines.append(f"  log in as admin / {admin_pw}")
    lines.append(f"  second member: bob / {bob_pw} (team 'acme')")
    return lines
