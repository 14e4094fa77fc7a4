"""One typed settings object, read from ``APPDOCK_*`` environment variables.

Nothing here touches the disk at import time: the SQLite path and the generated secret key are
resolved only when :meth:`Settings.database_url_resolved` or :meth:`Settings.secret` is called.
"""

from __future__ import annotations

import json
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PrivateUrlPolicy = Literal["off", "loopback", "all"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APPDOCK_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    # Outbound requests to apps (descriptors, lifecycle callbacks, webhooks) may reach private
    # addresses only when the operator says so: "off", "loopback" (127.0.0.0/8, ::1) or "all".
    allow_private_app_urls: PrivateUrlPolicy = "off"
    # Descriptors must use https unless this is on (development mode hosts on loopback need it).
    allow_http_app_urls: bool = True
    session_days: int = 14
    log_level: str = "info"
    # Webhook delivery (appdock.webhook). Seconds unless named otherwise.
    webhook_worker: bool = True  # `appdock serve` runs an embedded delivery worker
    webhook_concurrency: int = 64  # requests in flight per worker
    webhook_per_subscription_concurrency: int = 4  # in flight per subscription per worker
    webhook_timeout: float = 10.0
    webhook_max_payload: int = 256 * 1024
    # Back-off after failed attempt n (network error, timeout, 429, 5xx); jittered by +-25 %.
    # Env: APPDOCK_WEBHOOK_RETRY_SCHEDULE="10,60,300" (or a JSON list).
    webhook_retry_schedule: Annotated[list[float], NoDecode] = [
        10.0,
        60.0,
        300.0,
        1800.0,
        7200.0,
        21600.0,
        43200.0,
    ]
    webhook_lease: float = 60.0  # a claimed delivery is re-claimable after this
    webhook_poll_interval: float = 1.0  # idle wait between looks for due deliveries
    webhook_batch_size: int = 200
    webhook_disable_after: float = 86400.0  # failing without a success this long disables
    webhook_retention_days: float = 30.0  # attempt rows older than this are pruned

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
        return value

    @field_validator("allow_private_app_urls", mode="before")
    @classmethod
    def _policy(cls, value: object) -> object:
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on", "all"}:
            return "all"
        if text in {"", "0", "false", "no", "off"}:
            return "off"
        return text

    @property
    def database_url_resolved(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'appdock.db').resolve()}"

    @cached_property
    def secret(self) -> str:
        """The secret key; generated once and kept in ``DATA_DIR/secret_key`` when not set."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def repos_dir(self) -> Path:
        """Absolute, so git run in another working directory (a merge worktree, the demo's
        scratch clone) finds the repositories under a relative ``DATA_DIR``."""
        return (self.data_dir / "repositories").absolute()
