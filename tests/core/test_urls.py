"""``local_path``: ``next=`` parameters never become open redirects."""

from __future__ import annotations

import pytest

from appdock.core.urls import local_path


class TestLocalPath:
    @pytest.mark.parametrize(
        "value",
        [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "relative/path",
            "/a\nb",
            "/a\x7fb",
            "",
            None,
        ],
    )
    def test_anything_but_a_local_path_gives_the_default(self, value: str | None) -> None:
        assert local_path(value, "/home") == "/home"

    @pytest.mark.parametrize("value", ["/", "/acme/widget?tab=1#x", "/a:b/c"])
    def test_a_local_path_is_kept(self, value: str) -> None:
        assert local_path(value) == value
