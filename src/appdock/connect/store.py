"""Every query of the app platform: installations, client keys (with the last shared secret),
Marketplace listings. Which installations serve a page is decided here, once
(:meth:`ConnectStore.serving`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from appdock.models import AppClientKey, Installation, MarketplaceListing, User, Workspace


@dataclass(frozen=True)
class InstallationPrincipal:
    """An installation as the API authenticates it: the columns, nothing else."""

    installation_id: int
    app_key: str
    client_key: str
    shared_secret: str  # encrypted at rest
    scopes: str
    workspace_id: int
    user_id: int | None  # the owner of a personal account; None for a team
    username: str | None


_PRINCIPAL = (
    select(
        Installation.id,
        Installation.app_key,
        Installation.client_key,
        Installation.shared_secret,
        Installation.scopes,
        Workspace.id,
        User.id,
        User.username,
    )
    .join(Workspace, Workspace.id == Installation.workspace_id)
    .outerjoin(User, and_(Workspace.kind == "personal", User.id == Workspace.owner_user_id))
    .where(Installation.client_key == bindparam("client_key"))
)


class ConnectStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    # installations -------------------------------------------------------------------------------
    def installation_by_id(self, installation_id: int) -> Installation | None:
        return self.session.get(Installation, installation_id)

    def installation_by_client_key(self, client_key: str) -> Installation | None:
        return self.session.scalar(
            select(Installation).where(Installation.client_key == client_key)
        )

    def installation_principal(self, client_key: str) -> InstallationPrincipal | None:
        """What authenticating an app needs about the installation with ``client_key``, its
        account and the account's owning user: one prepared query of plain columns (no ORM
        rows, no descriptor JSON), made on every app request."""
        # Core, not the ORM: nothing to load into the session, half the cost per request
        row = self.session.connection().execute(_PRINCIPAL, {"client_key": client_key}).first()
        return InstallationPrincipal(*row) if row is not None else None

    def installation_for(self, app_key: str, workspace_id: int) -> Installation | None:
        return self.session.scalar(
            select(Installation).where(
                Installation.app_key == app_key, Installation.workspace_id == workspace_id
            )
        )

    def list_installations(
        self, workspace_id: int, offset: int = 0, limit: int = 1000
    ) -> tuple[list[Installation], int]:
        query = select(Installation).where(Installation.workspace_id == workspace_id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(
            query.order_by(Installation.created_at, Installation.id).offset(offset).limit(limit)
        )
        return list(rows), total

    def serving(self, workspace_id: int, personal_workspace_id: int | None) -> list[Installation]:
        """Installations on the owning workspace, then those on the viewer's personal account;
        one per app key, the owning workspace's first."""
        ids = [workspace_id] + ([personal_workspace_id] if personal_workspace_id else [])
        rows = list(
            self.session.scalars(select(Installation).where(Installation.workspace_id.in_(ids)))
        )
        rows.sort(key=lambda r: (r.workspace_id != workspace_id, r.app_key))
        chosen: dict[str, Installation] = {}
        for row in rows:
            chosen.setdefault(row.app_key, row)
        return sorted(chosen.values(), key=lambda r: r.app_key)

    def personal_workspace_id(self, user_id: int) -> int | None:
        return self.session.scalar(select(Workspace.id).where(Workspace.owner_user_id == user_id))

    # client keys ---------------------------------------------------------------------------------
    def client_key_record(self, app_key: str, workspace_id: int) -> AppClientKey | None:
        return self.session.scalar(
            select(AppClientKey).where(
                AppClientKey.app_key == app_key, AppClientKey.workspace_id == workspace_id
            )
        )

    def client_key_record_by_key(self, client_key: str) -> AppClientKey | None:
        return self.session.scalar(
            select(AppClientKey).where(AppClientKey.client_key == client_key)
        )

    # marketplace ---------------------------------------------------------------------------------
    def listings(self) -> Sequence[MarketplaceListing]:
        return list(
            self.session.scalars(
                select(MarketplaceListing).order_by(
                    func.lower(MarketplaceListing.name), MarketplaceListing.app_key
                )
            )
        )

    def listing_by_key(self, app_key: str) -> MarketplaceListing | None:
        return self.session.scalar(
            select(MarketplaceListing).where(MarketplaceListing.app_key == app_key)
        )

    def listing_by_url(self, url: str) -> MarketplaceListing | None:
        return self.session.scalar(
            select(MarketplaceListing).where(MarketplaceListing.descriptor_url == url)
        )

    def listing_by_key_or_url(self, value: str) -> MarketplaceListing | None:
        return self.session.scalar(
            select(MarketplaceListing).where(
                or_(MarketplaceListing.app_key == value, MarketplaceListing.descriptor_url == value)
            )
        )
