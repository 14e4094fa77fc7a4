"""Markdown to safe HTML (raw HTML disabled, unsafe link schemes refused by markdown-it), for
READMEs, commit messages, pull request descriptions and comments.

    >>> render_markdown("**hi** <script>")
    '<p><strong>hi</strong> &lt;script&gt;</p>\\n'

Relative links and images (a README's ``docs/setup.md`` or ``img/logo.png``) can be rewritten
against a base::

    render_markdown(text, link_base="/ws/repo/src/main/", image_base="/ws/repo/raw/main/")
"""

from __future__ import annotations

import posixpath
from functools import lru_cache
from urllib.parse import quote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


def _is_relative(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("/", "#", "?"))


def _rebase(url: str, base: str, directory: str) -> str:
    path, _, fragment = url.partition("#")
    joined = posixpath.normpath(posixpath.join(directory, path)).lstrip("/")
    if joined.startswith(".."):
        joined = joined.lstrip("./")
    return base + quote(joined, safe="/") + (f"#{fragment}" if fragment else "")


def _rewrite(
    tokens: list[Token], link_base: str | None, image_base: str | None, directory: str
) -> None:
    for token in tokens:
        if token.children:
            _rewrite(token.children, link_base, image_base, directory)
        if token.type == "link_open" and link_base:
            href = str(token.attrGet("href") or "")
            if href and _is_relative(href):
                token.attrSet("href", _rebase(href, link_base, directory))
        elif token.type == "image" and image_base:
            src = str(token.attrGet("src") or "")
            if src and _is_relative(src):
                token.attrSet("src", _rebase(src, image_base, directory))


def render_markdown(
    text: str,
    *,
    link_base: str | None = None,
    image_base: str | None = None,
    directory: str = "",
) -> str:
    md = _md()
    if link_base is None and image_base is None:
        return str(md.render(text or ""))
    env: dict[str, object] = {}
    tokens = md.parse(text or "", env)
    _rewrite(tokens, link_base, image_base, directory)
    return str(md.renderer.render(tokens, md.options, env))


def rendered(text: str) -> dict[str, str]:
    """Bitbucket's rendered-content object: ``{"type": "rendered", "raw", "markup", "html"}``."""
    return {"type": "rendered", "raw": text, "markup": "markdown", "html": render_markdown(text)}
