"""The q= query parser."""

from __future__ import annotations

import pytest

from appdock.core import bbql
from appdock.core.errors import BadRequest


class TestParse:
    def test_comparison_with_string_bool_number_null(self) -> None:
        assert bbql.parse('name ~ "wid"') == bbql.Cmp("name", "~", "wid")
        assert bbql.parse("is_private = true") == bbql.Cmp("is_private", "=", True)
        assert bbql.parse("size > 10") == bbql.Cmp("size", ">", 10)
        assert bbql.parse("parent = null") == bbql.Cmp("parent", "=", None)

    def test_and_binds_tighter_than_or(self) -> None:
        node = bbql.parse('a = "1" OR b = "2" AND c = "3"')
        assert isinstance(node, bbql.Or)
        assert isinstance(node.items[1], bbql.And)

    def test_parentheses(self) -> None:
        node = bbql.parse('(a = "1" OR b = "2") AND c = "3"')
        assert isinstance(node, bbql.And) and isinstance(node.items[0], bbql.Or)

    def test_escaped_quote_in_string(self) -> None:
        assert bbql.parse(r'name = "a\"b"') == bbql.Cmp("name", "=", 'a"b')

    @pytest.mark.parametrize("text", ["", 'name "x"', "name =", '= "x"', '(a = "1"', 'a = "1" b'])
    def test_malformed_query_is_400_naming_q(self, text: str) -> None:
        with pytest.raises(BadRequest) as err:
            bbql.parse(text)
        assert err.value.field == "q"


class TestToSql:
    def test_unknown_field_names_the_allowed_ones(self) -> None:
        with pytest.raises(BadRequest, match="use one of name"):
            bbql.to_sql(bbql.parse('owner = "x"'), {"name": lambda op, v: True}, all, any)

    def test_folds_with_the_given_combinators(self) -> None:
        node = bbql.parse('name = "a" AND name = "b"')
        out = bbql.to_sql(node, {"name": lambda op, v: v}, lambda *xs: list(xs), None)  # type: ignore[arg-type]
        assert out == ["a", "b"]


class TestQuotedValues:
    def test_non_ascii_text_is_kept(self) -> None:
        assert bbql.parse('title ~ "café ünïcode"') == bbql.Cmp("title", "~", "café ünïcode")

    def test_escaped_quote_and_backslash(self) -> None:
        assert bbql.parse(r'title = "say \"hi\" \\ bye"') == bbql.Cmp(
            "title", "=", 'say "hi" \\ bye'
        )
