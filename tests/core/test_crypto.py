from __future__ import annotations

import pytest

from appdock.core import crypto


class TestPasswords:
    def test_hash_verifies_and_differs_each_time(self) -> None:
        a, b = crypto.hash_password("secret-1"), crypto.hash_password("secret-1")
        assert a != b and a.startswith("$argon2id$")
        assert crypto.verify_password(a, "secret-1")
        assert not crypto.verify_password(a, "secret-2")

    def test_garbage_hash_is_false_not_error(self) -> None:
        assert not crypto.verify_password("not-a-hash", "x")


class TestTokens:
    def test_prefix_names_kind(self) -> None:
        assert crypto.new_token("app").startswith("adk_app_")

    def test_hash_is_keyed(self) -> None:
        assert crypto.token_hash("k1", "t") != crypto.token_hash("k2", "t")


class TestEncryption:
    def test_round_trip(self) -> None:
        sealed = crypto.encrypt("key", "shared-secret")
        assert "shared-secret" not in sealed
        assert crypto.decrypt("key", sealed) == "shared-secret"

    def test_wrong_key_is_clear_error(self) -> None:
        sealed = crypto.encrypt("key", "shared-secret")
        with pytest.raises(ValueError, match="current secret key"):
            crypto.decrypt("other", sealed)
