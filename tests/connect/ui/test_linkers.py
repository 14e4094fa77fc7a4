"""Linkers: app regexes turn text into links, escaped, (?K) restricted to registered values,
hostile patterns skipped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from appdock.connect.ui.linkers import compile_linkers, link_html
from appdock.connect.ui.service import LinkerSpec


def spec(
    regex: str = r"PROJ-(\d+)",
    url: str = r"https://jira.example.com/browse/PROJ-\1",
    key: str = "jira",
    kind: str = "href",
) -> LinkerSpec:
    return LinkerSpec(
        app_key="com.example.jira", installation_id=1, key=key, regex=regex, url=url, type=kind
    )


def values(
    registered: Mapping[tuple[int, str], frozenset[str]] | None = None,
) -> object:
    asked: list[Sequence[tuple[int, str]]] = []

    def provider(pairs: Sequence[tuple[int, str]]) -> Mapping[tuple[int, str], frozenset[str]]:
        asked.append(list(pairs))
        return registered or {}

    provider.asked = asked  # type: ignore[attr-defined]
    return provider


def link(text: str, *specs: LinkerSpec, registered: object = None) -> str:
    provider = registered if registered is not None else values()
    return str(link_html(text, compile_linkers(list(specs), provider)))  # type: ignore[arg-type]


class TestLinkHtml:
    def test_match_becomes_a_link_with_back_references(self) -> None:
        out = link("Fixes PROJ-42 and PROJ-7.", spec())
        assert 'href="https://jira.example.com/browse/PROJ-42"' in out
        assert 'href="https://jira.example.com/browse/PROJ-7"' in out
        assert ">PROJ-42</a> and " in out and out.endswith("</a>.")
        assert 'rel="nofollow noopener noreferrer"' in out

    def test_only_text_between_tags_is_scanned_and_links_are_not_nested(self) -> None:
        html = Markup('<p><a href="/x">PROJ-1</a> <code title="PROJ-2">PROJ-3</code></p>')
        out = link(html, spec())
        assert '<a href="/x">PROJ-1</a>' in out  # untouched inside an existing link
        assert 'title="PROJ-2"' in out  # attributes are never rewritten
        assert "browse/PROJ-3" in out

    def test_matched_text_and_group_values_are_escaped(self) -> None:
        evil = spec(regex=r"X(\S+)", url=r"https://a.example/\1")
        out = link(Markup("<p>X&lt;img&quot;src=x&gt;</p>"), evil)
        assert "<img" not in out
        assert 'href="https://a.example/%3Cimg%22src%3Dx%3E"' in out
        assert ">X&lt;img&#34;src=x&gt;</a>" in out

    def test_plain_text_is_escaped_first(self) -> None:
        out = link("<script>PROJ-1</script>", spec())
        assert "<script>" not in out and "&lt;script&gt;" in out

    def test_url_that_is_not_http_after_substitution_is_dropped(self) -> None:
        out = link("go:javascript:alert(1)", spec(regex=r"go:(\S+)", url=r"\1"))
        assert "<a" not in out

    def test_image_type(self) -> None:
        out = link(
            "badge:ok", spec(regex=r"badge:(\w+)", url=r"https://b.example/\1.svg", kind="image")
        )
        assert '<img class="adk-linker" src="https://b.example/ok.svg" alt="badge:ok"' in out


class TestKeyValues:
    def test_k_links_only_registered_values(self) -> None:
        k = spec(regex=r"(?K)-(\d+)", url=r"https://jira.example.com/browse/\1-\2")
        provider = values({(1, "jira"): frozenset({"PROJ"})})
        out = link("PROJ-1 OTHER-2", k, registered=provider)
        assert 'href="https://jira.example.com/browse/PROJ-1"' in out
        assert "OTHER-2" in out and "browse/OTHER" not in out
        assert provider.asked == [[(1, "jira")]]  # type: ignore[attr-defined]

    def test_k_linker_without_values_links_nothing(self) -> None:
        out = link("PROJ-1", spec(regex=r"(?K)-(\d+)", url=r"https://j.example/\1-\2"))
        assert "<a" not in out

    def test_values_are_not_asked_for_plain_linkers(self) -> None:
        provider = values()
        link("PROJ-1", spec(), registered=provider)
        assert provider.asked == []  # type: ignore[attr-defined]


class TestHostilePatterns:
    def test_catastrophic_backtracking_is_cut_short_and_text_kept(self) -> None:
        text = "x" * 5000
        out = link(text, spec(regex=r"(x+x+)+y", url="https://a.example/"), spec())
        assert out == text

    def test_pattern_that_does_not_compile_is_skipped(self) -> None:
        out = link("PROJ-1 (", spec(regex="(", key="bad"), spec())
        assert "browse/PROJ-1" in out

    def test_later_linker_does_not_overlap_an_earlier_link(self) -> None:
        other = spec(regex=r"PROJ", url="https://other.example/", key="other")
        out = link("PROJ-9", spec(), other)
        assert out.count("<a ") == 1 and "jira.example.com" in out


class TestKeyValuesAreLiteral:
    def test_values_that_are_not_words_are_ignored_and_others_match_literally(self) -> None:
        k = spec(regex=r"(?K)-(\d+)", url=r"https://jira.example.com/browse/\1-\2")
        provider = values({(1, "jira"): frozenset({"A.B", "(x+)+", "PROJ"})})
        out = link("AXB-1 A.B-2 PROJ-3", k, registered=provider)
        assert "browse/AXB-1" not in out and "browse/A.B-2" not in out
        assert 'href="https://jira.example.com/browse/PROJ-3"' in out

    def test_key_inside_a_longer_word_run(self) -> None:
        k = spec(regex=r"\b(?K)-(\d+)", url=r"https://jira.example.com/browse/\1-\2")
        provider = values({(1, "jira"): frozenset({"PROJ"})})
        assert "browse/PROJ-12" in link("see PROJ-12.", k, registered=provider)
        assert "<a" not in link("MYPROJ-12", k, registered=provider)
