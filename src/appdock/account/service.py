"""Rules for accounts: users, teams (workspaces), memberships, projects, app passwords, logins.

Every user gets a personal workspace with the same slug and uuid, in which they are the owner, and
every workspace gets a default project, as on Bitbucket. Usernames and workspace slugs share one
namespace. Methods flush; the caller commits.
"""

from __future__ import annotations

import secrets
import uuid as uuidlib
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appdock.account.store import ROLE_RANK, AccountStore
from appdock.core import crypto
from appdock.core.errors import BadRequest, Conflict, Forbidden, NotFound
from appdock.core.scopes import Scope, format_scopes, parse_scopes
from appdock.core.slugs import check_account_slug, check_project_key
from appdock.core.subject import AuthSubject
from appdock.core.time import utc_now
from appdock.models import AppPassword, Membership, Project, User, WebSession, Workspace

ROLES = ("member", "admin", "owner")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class NewSecret:
    """A secret shown once: the stored row and the plain value."""

    row: AppPassword
    secret: str


class AccountService:
    def __init__(self, session: Session, secret_key: str) -> None:
        self.store = AccountStore(session)
        self.session = session
        self.secret_key = secret_key

    # users -----------------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        password: str,
        *,
        email: str = "",
        display_name: str | None = None,
        is_admin: bool = False,
    ) -> User:
        """Create a user with a personal workspace and its default project.

        >>> svc.create_user("alice", "correct horse", email="alice@example.com")
        """
        check_account_slug(username, "username")
        if len(password) < MIN_PASSWORD:
            raise BadRequest(
                f"password: must be at least {MIN_PASSWORD} characters", field="password"
            )
        if email and "@" not in email:
            raise BadRequest(f"email: {email!r} is not an email address", field="email")
        if self.store.workspace_by_slug(username) or self.store.user_by_username(username):
            raise BadRequest(f"username: {username!r} is already taken", field="username")
        user_uuid = "{" + str(uuidlib.uuid4()) + "}"
        user = User(
            uuid=user_uuid,
            account_id=f"appdock:{uuidlib.uuid4().hex}",
            username=username,
            display_name=(display_name or username).strip() or username,
            email=email,
            password_hash=crypto.hash_password(password),
            is_admin=is_admin,
        )
        self._flush_new(user, "username")
        ws = Workspace(
            uuid=user_uuid,
            slug=username,
            name=user.display_name,
            kind="personal",
            owner_user_id=user.id,
            is_private=True,
        )
        self._flush_new(ws, "username")
        self.store.add(Membership(workspace_id=ws.id, user_id=user.id, role="owner"))
        self._add_default_project(ws)
        return user

    def get_user(self, value: str) -> User:
        user = self.store.user_by_any_id(value)
        if user is None or not user.is_active:
            raise NotFound(f"user {value!r} not found")
        return user

    def user_by_id(self, user_id: int) -> User:
        user = self.store.user_by_id(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    def authenticate_password(self, username: str, password: str) -> User | None:
        user = self.store.user_by_username(username)
        if user is None or not user.is_active:
            # Spend the same time as a real check so timing does not reveal which names exist.
            crypto.verify_password(_dummy_hash(), password)
            return None
        return user if crypto.verify_password(user.password_hash, password) else None

    def update_profile(self, user: User, *, display_name: str, email: str) -> User:
        display_name = display_name.strip()
        if not display_name:
            raise BadRequest("display_name: must not be empty", field="display_name")
        if email and "@" not in email:
            raise BadRequest(f"email: {email!r} is not an email address", field="email")
        user.display_name = display_name
        user.email = email.strip()
        personal = self.store.personal_workspace(user.id)
        if personal is not None:
            personal.name = display_name
        self.session.flush()
        return user

    def change_password(self, user: User, current: str, new: str) -> None:
        if not crypto.verify_password(user.password_hash, current):
            raise BadRequest(
                "current_password: is not your current password", field="current_password"
            )
        if len(new) < MIN_PASSWORD:
            raise BadRequest(
                f"new_password: must be at least {MIN_PASSWORD} characters", field="new_password"
            )
        user.password_hash = crypto.hash_password(new)
        self.session.flush()

    def set_password(self, user: User, new: str) -> None:
        if len(new) < MIN_PASSWORD:
            raise BadRequest(
                f"password: must be at least {MIN_PASSWORD} characters", field="password"
            )
        user.password_hash = crypto.hash_password(new)
        self.session.flush()

    # workspaces ------------------------------------------------------------------------------
    def create_team(self, slug: str, name: str, owner: User) -> Workspace:
        check_account_slug(slug, "slug")
        name = (name or "").strip()
        if not name:
            raise BadRequest("name: is required", field="name")
        if self.store.workspace_by_slug(slug) or self.store.user_by_username(slug):
            raise BadRequest(f"slug: {slug!r} is already taken", field="slug")
        ws = Workspace(slug=slug, name=name, kind="team", is_private=True)
        self._flush_new(ws, "slug")
        self.store.add(Membership(workspace_id=ws.id, user_id=owner.id, role="owner"))
        self._add_default_project(ws)
        return ws

    def get_workspace(self, slug: str) -> Workspace:
        ws = self.store.workspace_by_slug_or_uuid(slug)
        if ws is None:
            raise NotFound(f"workspace {slug!r} not found")
        return ws

    def can_see_workspace(self, workspace: Workspace, subject: AuthSubject) -> bool:
        """Public workspaces are visible to everyone; private ones to members and to an app
        installed on that very workspace."""
        if not workspace.is_private:
            return True
        if subject.workspace_id is not None and subject.workspace_id == workspace.id:
            return True
        return self.role_of(workspace, subject.user_id) is not None

    def visible_workspace(self, slug: str, subject: AuthSubject) -> Workspace:
        """The workspace, or NotFound when it is absent or hidden from the caller (no leak)."""
        ws = self.store.workspace_by_slug_or_uuid(slug)
        if ws is None or not self.can_see_workspace(ws, subject):
            raise NotFound(f"workspace {slug!r} not found")
        return ws

    def is_member_or_acting(self, workspace: Workspace, subject: AuthSubject) -> bool:
        if subject.workspace_id == workspace.id:
            return True
        return self.role_of(workspace, subject.user_id) is not None

    def role_of(self, workspace: Workspace, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        m = self.store.membership(workspace.id, user_id)
        return m.role if m else None

    def is_admin_of(self, workspace: Workspace, user_id: int | None) -> bool:
        role = self.role_of(workspace, user_id)
        return role is not None and ROLE_RANK[role] >= ROLE_RANK["admin"]

    def require_admin(self, workspace: Workspace, user: User) -> None:
        if not self.is_admin_of(workspace, user.id):
            raise Forbidden(f"you are not an administrator of workspace {workspace.slug!r}")

    def add_member(self, workspace: Workspace, user: User, role: str = "member") -> Membership:
        if workspace.kind != "team":
            raise BadRequest(
                "workspace: a personal workspace has no other members", field="workspace"
            )
        self._check_role(role)
        if self.store.membership(workspace.id, user.id):
            raise BadRequest(
                f"username: {user.username!r} is already a member of {workspace.slug!r}",
                field="username",
            )
        m = Membership(workspace_id=workspace.id, user_id=user.id, role=role)
        self.store.add(m)
        return m

    def set_role(self, workspace: Workspace, user: User, role: str) -> Membership:
        self._check_role(role)
        m = self.store.membership(workspace.id, user.id)
        if m is None:
            raise NotFound(f"{user.username!r} is not a member of {workspace.slug!r}")
        if m.role == "owner" and role != "owner" and self.store.count_owners(workspace.id) <= 1:
            raise BadRequest("role: a workspace needs at least one owner", field="role")
        m.role = role
        self.session.flush()
        return m

    def remove_member(self, workspace: Workspace, user: User) -> None:
        m = self.store.membership(workspace.id, user.id)
        if m is None:
            raise NotFound(f"{user.username!r} is not a member of {workspace.slug!r}")
        if m.role == "owner" and self.store.count_owners(workspace.id) <= 1:
            raise BadRequest(
                "username: the last owner cannot leave the workspace", field="username"
            )
        self.store.delete(m)

    def set_dev_mode(self, workspace: Workspace, enabled: bool) -> None:
        workspace.dev_mode = enabled
        self.session.flush()

    def member_workspaces(
        self, user_id: int, offset: int = 0, limit: int = 100
    ) -> tuple[list[tuple[Workspace, str]], int]:
        return self.store.list_member_workspaces(user_id, offset, limit)

    def admin_workspaces(self, user: User) -> list[Workspace]:
        rows, _ = self.store.list_member_workspaces(user.id, 0, 1000)
        return [w for w, role in rows if ROLE_RANK[role] >= ROLE_RANK["admin"]]

    # projects --------------------------------------------------------------------------------
    def create_project(
        self,
        workspace: Workspace,
        *,
        key: str,
        name: str,
        description: str = "",
        is_private: bool = True,
    ) -> Project:
        check_project_key(key)
        name = (name or "").strip()
        if not name:
            raise BadRequest("name: is required", field="name")
        if self.store.project(workspace.id, key):
            raise BadRequest(
                f"key: project {key!r} already exists in {workspace.slug!r}", field="key"
            )
        project = Project(
            workspace_id=workspace.id,
            key=key,
            name=name,
            description=description,
            is_private=is_private,
        )
        self._flush_new(project, "key")
        return project

    def get_project(self, workspace: Workspace, key: str) -> Project:
        project = self.store.project(workspace.id, key)
        if project is None:
            raise NotFound(f"project {key!r} not found in workspace {workspace.slug!r}")
        return project

    def _add_default_project(self, ws: Workspace) -> None:
        self.store.add(
            Project(
                workspace_id=ws.id,
                key="PROJ",
                name="Untitled project",
                description="",
                is_private=ws.is_private,
                is_default=True,
            )
        )

    # app passwords ---------------------------------------------------------------------------
    def create_app_password(self, user: User, label: str, scopes: str | list[str]) -> NewSecret:
        label = (label or "").strip()
        if not label:
            raise BadRequest("label: is required", field="label")
        try:
            parsed = parse_scopes(scopes)
        except ValueError as exc:
            raise BadRequest(f"scopes: {exc}", field="scopes") from exc
        if not parsed:
            raise BadRequest("scopes: choose at least one scope", field="scopes")
        secret = crypto.new_token("app")
        row = AppPassword(
            user_id=user.id,
            label=label[:255],
            token_hash=crypto.token_hash(self.secret_key, secret),
            token_hint=secret[-4:],
            scopes=format_scopes(parsed),
        )
        self.store.add(row)
        return NewSecret(row=row, secret=secret)

    def revoke_app_password(self, user: User, password_id: int) -> None:
        row = self.store.app_password(user.id, password_id)
        if row is None:
            raise NotFound("app password not found")
        self.store.delete(row)

    def app_passwords(self, user: User) -> list[AppPassword]:
        return self.store.app_passwords_of(user.id)

    def authenticate_app_password(
        self, username: str, secret: str
    ) -> tuple[User, frozenset[Scope]] | None:
        row = self.store.app_password_by_hash(crypto.token_hash(self.secret_key, secret))
        if row is None:
            return None
        user = self.store.user_by_id(row.user_id)
        if user is None or not user.is_active or user.username != username:
            return None
        now = utc_now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            row.last_used_at = now  # coarse, so most requests do not write
        return user, parse_scopes(row.scopes)

    # web sessions ----------------------------------------------------------------------------
    def start_web_session(self, user: User, days: int) -> str:
        token = secrets.token_urlsafe(32)
        self.store.add(
            WebSession(
                token_hash=crypto.token_hash(self.secret_key, token),
                user_id=user.id,
                expires_at=utc_now() + timedelta(days=days),
            )
        )
        return token

    def user_for_web_session(self, token: str) -> User | None:
        row = self.store.web_session_by_hash(crypto.token_hash(self.secret_key, token))
        if row is None or row.expires_at < utc_now():
            return None
        user = self.store.user_by_id(row.user_id)
        return user if user is not None and user.is_active else None

    def end_web_session(self, token: str) -> None:
        self.store.delete_web_session(crypto.token_hash(self.secret_key, token))

    # helpers ---------------------------------------------------------------------------------
    def _flush_new(self, obj: object, field: str) -> None:
        """Add and flush inside a savepoint so a unique-key race becomes a clean 409."""
        try:
            with self.session.begin_nested():
                self.session.add(obj)
        except IntegrityError as exc:
            raise Conflict(f"{field}: already exists", field=field) from exc

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise BadRequest(f"role: must be one of {', '.join(ROLES)}", field="role")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return crypto.hash_password("appdock-timing-equaliser")
