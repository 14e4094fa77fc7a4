"""App platform objects in Bitbucket-style shapes, and the bodies the API accepts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from appdock.account import schemas as account_schemas
from appdock.core.scopes import parse_scopes
from appdock.core.time import isoformat
from appdock.core.urls import Urls
from appdock.models import Installation, User, Workspace

Links = dict[str, dict[str, str]]


class AddonInstallBody(BaseModel):
    """``POST /2.0/account/{account}/addons``: the descriptor URL, as atlassian-connect-express
    sends it."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(min_length=1, max_length=2048)


class AddonUpdateBody(BaseModel):
    """``PUT /2.0/addon``: ``{}`` re-fetches the stored descriptor URL, ``descriptor`` is an inline
    descriptor, ``descriptor_url`` moves the installation to another URL."""

    model_config = ConfigDict(extra="ignore")

    descriptor: dict[str, Any] | None = None
    descriptor_url: str | None = Field(default=None, max_length=2048)


class InstallationRead(BaseModel):
    type: Literal["addon_installation"] = "addon_installation"
    id: int
    key: str
    name: str
    description: str
    vendor: dict[str, Any] | None
    clientKey: str
    client_key: str
    base_url: str
    descriptor_url: str | None
    principal: account_schemas.TeamRead | account_schemas.UserRead
    installed_by: account_schemas.UserRead | None
    scopes: list[str]
    all_scopes: bool
    pending_scopes: list[str] | None
    created_on: str | None
    updated_on: str | None
    links: Links


def installation_read(
    inst: Installation,
    ws: Workspace,
    owner: User | None,
    installed_by: User | None,
    urls: Urls,
) -> InstallationRead:
    raw = inst.descriptor
    vendor = raw.get("vendor") if isinstance(raw.get("vendor"), dict) else None
    description = raw.get("description")
    account = owner.username if ws.kind == "personal" and owner else ws.slug
    return InstallationRead(
        id=inst.id,
        key=inst.app_key,
        name=inst.name,
        description=description if isinstance(description, str) else "",
        vendor=vendor,
        clientKey=inst.client_key,
        client_key=inst.client_key,
        base_url=inst.base_url,
        descriptor_url=inst.descriptor_url,
        principal=account_schemas.owner_read(ws, owner, urls),
        installed_by=account_schemas.user_read(installed_by, urls) if installed_by else None,
        scopes=sorted(s.value for s in parse_scopes(inst.scopes)),
        all_scopes=raw.get("scopes") is None,
        pending_scopes=(
            sorted(s.value for s in parse_scopes(inst.pending_scopes))
            if inst.pending_scopes
            else None
        ),
        created_on=isoformat(inst.created_at),
        updated_on=isoformat(inst.updated_at),
        links={"self": urls.link(urls.api("account", account, "addons", str(inst.id)))},
    )
