"""Markdown rendering: safe HTML, rewritten relative links."""

from __future__ import annotations

from appdock.core.markup import render_markdown, rendered


class TestRenderMarkdown:
    def test_raw_html_is_escaped(self) -> None:
        html = render_markdown("<script>alert(1)</script> <img src=x onerror=alert(1)>")
        assert "<script>" not in html and "<img" not in html
        assert "&lt;script&gt;" in html

    def test_javascript_links_are_not_rendered_as_links(self) -> None:
        assert "href" not in render_markdown("[x](javascript:alert(1))")

    def test_tables_render(self) -> None:
        assert "<table>" in render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n")

    def test_relative_links_and_images_are_rebased(self) -> None:
        html = render_markdown(
            "[doc](docs/a.md) ![logo](img/l.png) [abs](https://example.test/x) [top](#top)",
            link_base="/ws/r/src/main/",
            image_base="/ws/r/raw/main/",
            directory="sub",
        )
        assert 'href="/ws/r/src/main/sub/docs/a.md"' in html
        assert 'src="/ws/r/raw/main/sub/img/l.png"' in html
        assert 'href="https://example.test/x"' in html and 'href="#top"' in html

    def test_rebased_links_cannot_climb_out(self) -> None:
        html = render_markdown("[x](../../../etc/passwd)", link_base="/ws/r/src/main/")
        assert 'href="/ws/r/src/main/etc/passwd"' in html

    def test_rendered_object_shape(self) -> None:
        assert rendered("**b**") == {
            "type": "rendered",
            "raw": "**b**",
            "markup": "markdown",
            "html": "<p><strong>b</strong></p>\n",
        }
