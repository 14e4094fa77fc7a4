"""A parser for the part of Bitbucket's query language (``q=``) the host supports.

Grammar: comparisons ``field op value`` joined by ``AND`` / ``OR`` with parentheses;
operators ``=``, ``!=``, ``~`` (contains, case-insensitive), ``!~``, ``>``, ``>=``, ``<``, ``<=``;
values are double-quoted strings, numbers, ``true``, ``false`` or ``null``.

    >>> parse('name ~ "wid" AND is_private = true')
    And(items=(Cmp(field='name', op='~', value='wid'), Cmp(field='is_private', op='=', value=True)))

Domains map the fields they allow onto their own filters (see ``to_sql``); anything else is a
:class:`BadRequest` naming the ``q`` parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from appdock.core.errors import BadRequest

Value = str | int | float | bool | None


_ESCAPE = re.compile(r"\\(.)")


def _unescape(body: str) -> str:
    """Backslash escapes inside a quoted value: ``\\"`` is a quote, ``\\\\`` a backslash; any
    other character, including non-ASCII text, stands for itself."""
    return _ESCAPE.sub(lambda m: m.group(1), body)


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Cmp | And | Or

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|>=|<=|!~|=|~|>|<)|(?P<paren>[()])'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)|(?P<num>-?\d+(?:\.\d+)?))"
)


def _error(message: str) -> BadRequest:
    return BadRequest(f"q: {message}", field="q")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _error(f"cannot parse the query near {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _error("the query ends too early")
        self.i += 1
        return tok

    def expr(self) -> Node:
        items = [self.term()]
        while (tok := self.peek()) and tok[0] == "word" and tok[1].upper() == "OR":
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self) -> Node:
        items = [self.factor()]
        while (tok := self.peek()) and tok[0] == "word" and tok[1].upper() == "AND":
            self.take()
            items.append(self.factor())
        return items[0] if len(items) == 1 else And(tuple(items))

    def factor(self) -> Node:
        kind, text = self.take()
        if kind == "paren" and text == "(":
            node = self.expr()
            if self.take() != ("paren", ")"):
                raise _error("missing ')'")
            return node
        if kind != "word":
            raise _error(f"expected a field name, found {text!r}")
        op_kind, op = self.take()
        if op_kind != "op":
            raise _error(f"expected an operator after {text!r}, found {op!r}")
        return Cmp(text, op, self.value())

    def value(self) -> Value:
        kind, text = self.take()
        if kind == "str":
            return _unescape(text[1:-1])
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise _error(f"expected a value, found {text!r}")


def parse(text: str) -> Node:
    tokens = _tokens(text)
    if not tokens:
        raise _error("the query is empty")
    parser = _Parser(tokens)
    node = parser.expr()
    if parser.peek() is not None:
        raise _error(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return node


def fields(node: Node) -> set[str]:
    if isinstance(node, Cmp):
        return {node.field}
    return set().union(*(fields(n) for n in node.items))


def to_sql(
    node: Node,
    compile_cmp: Mapping[str, Callable[[str, Value], Any]],
    combine_and: Callable[..., Any],
    combine_or: Callable[..., Any],
) -> Any:
    """Fold the tree into a backend expression: ``compile_cmp[field](op, value)`` per comparison."""
    if isinstance(node, Cmp):
        fn = compile_cmp.get(node.field)
        if fn is None:
            allowed = ", ".join(sorted(compile_cmp))
            raise _error(f"cannot filter on {node.field!r}; use one of {allowed}")
        return fn(node.op, node.value)
    parts = [to_sql(n, compile_cmp, combine_and, combine_or) for n in node.items]
    return combine_and(*parts) if isinstance(node, And) else combine_or(*parts)
