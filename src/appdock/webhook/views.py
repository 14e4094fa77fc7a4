"""Webhook settings pages (placeholder until the pages land)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from appdock.web.deps import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)])


def register_nav(state: dict[str, Any]) -> None:
    """Add the Webhooks entries to the repository and workspace settings navigation."""
