from __future__ import annotations

from pathlib import Path

import pytest

from appdock.config import Settings


class TestSettings:
    def test_defaults_do_no_io(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        s = Settings()
        assert s.base_url == "http://127.0.0.1:8000"
        assert s.database_url_resolved == f"sqlite:///{tmp_path / 'var' / 'appdock.db'}"
        assert not (tmp_path / "var").exists()

    def test_env_prefix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("APPDOCK_BASE_URL", "https://code.example.com/")
        monkeypatch.setenv("APPDOCK_ALLOW_PRIVATE_APP_URLS", "1")
        s = Settings()
        assert s.base_url == "https://code.example.com"
        assert s.is_https
        assert s.allow_private_app_urls == "all"

    def test_secret_generated_once_and_kept(self, tmp_path: Path) -> None:
        s1 = Settings(data_dir=tmp_path / "d")
        first = s1.secret
        assert (tmp_path / "d" / "secret_key").read_text() == first
        assert Settings(data_dir=tmp_path / "d").secret == first
        assert oct((tmp_path / "d" / "secret_key").stat().st_mode)[-3:] == "600"

    def test_explicit_secret_wins(self, tmp_path: Path) -> None:
        assert Settings(data_dir=tmp_path, secret_key="given").secret == "given"
        assert not (tmp_path / "secret_key").exists()

    def test_bad_policy_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="allow_private_app_urls"):
            Settings(allow_private_app_urls="sometimes")  # type: ignore[arg-type]
