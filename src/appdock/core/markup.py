"""Markdown to safe HTML (raw HTML disabled, unsafe link schemes refused), for READMEs, commit
messages, pull request descriptions and comments.

    >>> render_markdown("**hi** <script>")
    '<p><strong>hi</strong> &lt;script&gt;</p>\\n'
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


def render_markdown(text: str) -> str:
    return _md().render(text or "")


def rendered(text: str) -> dict[str, str]:
    """Bitbucket's rendered-content object: ``{"type": "rendered", "raw", "markup", "html"}``."""
    return {"type": "rendered", "raw": text, "markup": "markdown", "html": render_markdown(text)}
