"""Tenants: one per installation (clientKey), holding what the installed callback sent."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Tenant:
    client_key: str
    shared_secret: str
    base_url: str
    base_api_url: str
    app_key: str
    principal: dict[str, Any] = field(default_factory=dict)
    installed_by: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Tenant:
        return cls(
            client_key=str(payload["clientKey"]),
            shared_secret=str(payload["sharedSecret"]),
            base_url=str(payload.get("baseUrl", "")),
            base_api_url=str(payload.get("baseApiUrl") or payload.get("baseUrl", "")),
            app_key=str(payload.get("key", "")),
            principal=dict(payload.get("principal") or {}),
            installed_by=dict(payload.get("user") or {}),
        )


class TenantStore(Protocol):
    """Where tenants live. Implement these three methods to use your own database.

    >>> class RedisTenants:
    ...     def get(self, client_key): ...
    ...     def put(self, tenant): ...
    ...     def delete(self, client_key): ...
    """

    def get(self, client_key: str) -> Tenant | None: ...

    def put(self, tenant: Tenant) -> None: ...

    def delete(self, client_key: str) -> None: ...


class MemoryTenantStore:
    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}
        self._lock = threading.Lock()

    def get(self, client_key: str) -> Tenant | None:
        with self._lock:
            return self._tenants.get(client_key)

    def put(self, tenant: Tenant) -> None:
        with self._lock:
            self._tenants[tenant.client_key] = tenant

    def delete(self, client_key: str) -> None:
        with self._lock:
            self._tenants.pop(client_key, None)

    def __len__(self) -> int:
        return len(self._tenants)


class JSONFileTenantStore:
    """Tenants in one JSON file, rewritten atomically; enough for a small app on one machine."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text() or "{}")
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tenants-")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def get(self, client_key: str) -> Tenant | None:
        with self._lock:
            raw = self._load().get(client_key)
        return Tenant(**raw) if raw else None

    def put(self, tenant: Tenant) -> None:
        with self._lock:
            data = self._load()
            data[tenant.client_key] = asdict(tenant)
            self._save(data)

    def delete(self, client_key: str) -> None:
        with self._lock:
            data = self._load()
            data.pop(client_key, None)
            self._save(data)
