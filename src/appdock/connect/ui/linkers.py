"""``linkers`` modules: text that matches an app's regex becomes a link (connect-spec §2.1).

A linker is ``{"key", "regex", "url", "type": "href" | "image"}``. ``url`` (already joined with the
app's baseUrl by :mod:`appdock.connect.ui.service`) may hold back-references ``\\1`` … ``\\9`` to
the match's groups. The Bitbucket token ``(?K)`` in the regex stands for ``([\\w\\-]+)`` and
restricts matches to the values the app registered through
``/2.0/addon/linkers/{key}/values`` (the token becomes a capturing group of exactly those
values); such a linker links nothing until values exist.

Invariants:

* the input is HTML we rendered (markdown-it, raw HTML off): only text between tags is
  scanned, never attributes, and never text already inside ``<a>`` (no nested links);
* everything emitted is escaped: the matched text, the URL (only ``http``/``https`` after
  substitution; group values are percent-encoded), the app key;
* an app's pattern is third-party input: it is compiled with the ``regex`` package and every
  search runs with a :data:`MATCH_TIMEOUT`; a pattern that times out or does not compile is
  skipped (the text stays as it was). Texts longer than :data:`MAX_TEXT` are not scanned, and a
  page stops adding links after :data:`MAX_LINKS`.

    >>> url = "https://j.example/browse/PROJ-\\1"
    >>> spec = LinkerSpec("app", 1, "jira", r"PROJ-(\\d+)", url, "href")
    >>> str(link_html("Fixes PROJ-7", compile_linkers([spec], lambda pairs: {})))
    'Fixes <a class="adk-linker" href="https://j.example/browse/PROJ-7" ...>PROJ-7</a>'
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote, urlsplit

import regex
from markupsafe import Markup, escape

from appdock.connect.ui.service import LinkerSpec

log = logging.getLogger("appdock.connect.linkers")

K_TOKEN = "(?K)"
MATCH_TIMEOUT = 0.05  # seconds per linker per text
MAX_TEXT = 20_000
MAX_LINKS = 500
MAX_PATTERN = 1000

_TAG = re.compile(r"(<[^>]*>)")
_BACKREF = re.compile(r"\\([0-9])")


class LinkerValues(Protocol):
    """Registered ``(?K)`` values: ``{(installation_id, linker_key): {value, ...}}`` for the
    pairs asked. The REST API that stores them (``/2.0/addon/linkers/{key}/values``) plugs in
    its store here (``app.state.linker_values``: a callable ``(session, pairs) -> mapping``).

        >>> values = lambda pairs: {(1, "jira"): frozenset({"PROJ"})}
    """

    def __call__(
        self, pairs: Sequence[tuple[int, str]]
    ) -> Mapping[tuple[int, str], frozenset[str]]: ...


def no_values(pairs: Sequence[tuple[int, str]]) -> Mapping[tuple[int, str], frozenset[str]]:
    """The provider used until the values API is plugged in: nothing registered."""
    return {}


@dataclass(frozen=True)
class CompiledLinker:
    spec: LinkerSpec
    pattern: regex.Pattern[str]


MAX_VALUES = 2000
_VALUE = re.compile(r"[\w\-]+")


@lru_cache(maxsize=512)
def _compile(source: str, values: tuple[str, ...] | None) -> regex.Pattern[str] | None:
    """``values`` (longest first) replace each ``(?K)`` as a capturing group of alternatives;
    ``None`` when the pattern has no ``(?K)``."""
    if not source or len(source) > MAX_PATTERN:
        return None
    expanded = source
    if values is not None:
        group = "(" + "|".join(regex.escape(v) for v in values) + ")"
        expanded = source.replace(K_TOKEN, group)
    try:
        return regex.compile(expanded)
    except (regex.error, OverflowError, RecursionError) as exc:
        log.info("linker pattern %r does not compile: %s", source[:80], exc)
        return None


def compile_linkers(
    specs: Sequence[LinkerSpec], values: Callable[..., Mapping[tuple[int, str], frozenset[str]]]
) -> list[CompiledLinker]:
    """Compile once per page; ``values`` is asked only for the linkers that use ``(?K)``, which
    becomes a group matching exactly the registered values (each ``[\\w\\-]+``, as Bitbucket
    defines the token): a linker without values links nothing."""
    usable = [s for s in specs if s.regex and _safe_url(s.url)]
    wanted = [(s.installation_id, s.key) for s in usable if K_TOKEN in s.regex]
    registered = values(wanted) if wanted else {}
    result = []
    for spec in usable:
        keys: tuple[str, ...] | None = None
        if K_TOKEN in spec.regex:
            known = registered.get((spec.installation_id, spec.key), frozenset())
            valid = sorted((v for v in known if _VALUE.fullmatch(v)), key=lambda v: (-len(v), v))
            keys = tuple(valid[:MAX_VALUES])
            if not keys:
                continue  # a (?K) linker with no registered value links nothing
        pattern = _compile(spec.regex, keys)
        if pattern is not None:
            result.append(CompiledLinker(spec, pattern))
    return result


def _safe_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _target(linker: CompiledLinker, match: regex.Match[str]) -> str | None:
    def group(m: re.Match[str]) -> str:
        index = int(m.group(1))
        try:
            value = match.group(index) if index <= (match.re.groups or 0) else ""
        except IndexError:
            value = ""
        return quote(value or "", safe="")

    url = _BACKREF.sub(group, linker.spec.url)
    return url if _safe_url(url) else None


def _link(linker: CompiledLinker, text: str, url: str) -> str:
    app = escape(linker.spec.app_key)
    if linker.spec.type == "image":
        return (
            f'<img class="adk-linker" src="{escape(url)}" alt="{escape(text)}" '
            f'data-app-key="{app}" referrerpolicy="no-referrer">'
        )
    return (
        f'<a class="adk-linker" href="{escape(url)}" rel="nofollow noopener noreferrer" '
        f'referrerpolicy="no-referrer" data-app-key="{app}">{escape(text)}</a>'
    )


class _Budget:
    def __init__(self) -> None:
        self.links = 0


def _link_text(text: str, linkers: Sequence[CompiledLinker], budget: _Budget) -> str:
    """One text node (unescaped) → escaped HTML with links; first linker to match wins."""
    if not text.strip() or len(text) > MAX_TEXT:
        return str(escape(text))
    spans: list[tuple[int, int, str]] = []  # start, end, html
    for linker in linkers:
        try:
            matches = list(linker.pattern.finditer(text, timeout=MATCH_TIMEOUT))
        except TimeoutError:
            log.warning("linker %s:%s timed out; skipped", linker.spec.app_key, linker.spec.key)
            continue
        for match in matches:
            start, end = match.span()
            if start == end or any(s < end and start < e for s, e, _ in spans):
                continue
            if budget.links >= MAX_LINKS:
                break
            url = _target(linker, match)
            if url is None:
                continue
            spans.append((start, end, _link(linker, match.group(0), url)))
            budget.links += 1
    if not spans:
        return str(escape(text))
    out: list[str] = []
    position = 0
    for start, end, piece in sorted(spans):
        out.append(str(escape(text[position:start])))
        out.append(piece)
        position = end
    out.append(str(escape(text[position:])))
    return "".join(out)


def link_html(value: str, linkers: Sequence[CompiledLinker]) -> Markup:
    """Rendered HTML (``Markup``) or plain text (``str``, escaped first) with app links added."""
    source = str(value) if isinstance(value, Markup) else str(escape(value))
    if not linkers:
        return Markup(source)  # noqa: S704 - escaped above or already Markup
    budget = _Budget()
    out: list[str] = []
    depth = 0  # inside <a>
    for piece in _TAG.split(source):
        if not piece:
            continue
        if piece.startswith("<"):
            name = piece[1:].split(None, 1)[0].rstrip("/>").lower() if len(piece) > 2 else ""
            if name == "a":
                depth += 1
            elif name == "/a":
                depth = max(0, depth - 1)
            out.append(piece)
        elif depth:
            out.append(piece)
        else:
            out.append(_link_text(html.unescape(piece), linkers, budget))
    return Markup("".join(out))  # noqa: S704 - tags kept from escaped input, text re-escaped
