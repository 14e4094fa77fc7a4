"""The Marketplace: apps the operator lists, installable by any account admin without development
mode. A listing keeps the descriptor as last fetched, for browsing; installs fetch it again.
Methods flush; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from appdock.connect.descriptor import Descriptor
from appdock.connect.store import ConnectStore
from appdock.core.errors import NotFound
from appdock.core.time import utc_now
from appdock.models import MarketplaceListing


class MarketplaceService:
    def __init__(self, session: Session) -> None:
        self.store = ConnectStore(session)

    def add(self, descriptor: Descriptor, raw: dict[str, Any], url: str) -> MarketplaceListing:
        """List an app (or refresh its listing when its key is already listed)."""
        listing = self.store.listing_by_key(descriptor.key)
        if listing is None:
            listing = MarketplaceListing(app_key=descriptor.key)
            self.store.session.add(listing)
        listing.descriptor_url = url
        listing.name = descriptor.name[:255]
        listing.description = descriptor.description
        listing.vendor_name = descriptor.vendor_name[:255]
        listing.descriptor = raw
        listing.fetched_at = utc_now()
        self.store.session.flush()
        return listing

    def remove(self, app_key: str) -> None:
        listing = self.store.listing_by_key(app_key)
        if listing is None:
            raise NotFound(f"no Marketplace listing with key {app_key!r}")
        self.store.delete(listing)

    def listings(self) -> Sequence[MarketplaceListing]:
        return self.store.listings()

    def get(self, app_key: str) -> MarketplaceListing:
        listing = self.store.listing_by_key(app_key)
        if listing is None:
            raise NotFound(f"no app with key {app_key!r} is listed in the Marketplace")
        return listing
