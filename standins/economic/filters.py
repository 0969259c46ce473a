"""Collection queries as e-conomic reads them: `filter` (operators, joins, escapes, `$null:`) and
`sort` (ascending, `-` descending, dotted names), on the properties the schema allows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from standins.economic.wire import dumps

# --- filters ----------------------------------------------------------------------------------------

_WILDCARD = "\ue000"
_NEVER = "\ue001"
"""Stands for `$[` and `$]` in a value: no document holds it, so the filter matches nothing. e-conomic's
2019 REST docs list both escapes (e-conomic/slate@8abdb42 source/includes/_introduction.md, "Escaping
special characters in your filter"), but e-conomic does not honour them: a filter with them matches
nothing (issue 15, item 16). The stand-in does what e-conomic does, not what the old docs say."""
_ESCAPES = {"$$": "$", "$(": "(", "$)": ")", "$*": "*", "$,": ",", "$[": _NEVER, "$]": _NEVER}
_OPERATORS = ("$eq:", "$ne:", "$gte:", "$gt:", "$lte:", "$lt:", "$like:", "$in:", "$nin:")
_JOINERS = {"$and:": "and", "$or:": "or"}
_NULL = "$null:"


class FilterError(ValueError):
    pass


Token = tuple[str, str | None]


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            out.append(("text", "".join(buf)))
            buf.clear()

    i = 0
    while i < len(text):
        c = text[i]
        if c == "$":
            if text[i : i + 2] in _ESCAPES:
                buf.append(_ESCAPES[text[i : i + 2]])
                i += 2
                continue
            if text.startswith(_NULL, i):
                flush()
                out.append(("null", None))
                i += len(_NULL)
                continue
            for op in (*_OPERATORS, *_JOINERS):
                if text.startswith(op, i):
                    flush()
                    out.append(("join", _JOINERS[op]) if op in _JOINERS else ("op", op[1:-1]))
                    i += len(op)
                    break
            else:
                raise FilterError(f"Unknown operator or escape at position {i}: {text[i : i + 6]!r}.")
            continue
        if c in "()[],":
            flush()
            out.append((c, None))
        else:
            buf.append(_WILDCARD if c == "*" else c)
        i += 1
    flush()
    return out


@dataclass(frozen=True)
class _Predicate:
    field: str
    op: str
    value: str | None  # None: $null:
    values: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class _Join:
    op: str
    left: Any
    right: Any


class _FilterParser:
    def __init__(self, tokens: list[Token], allowed: Sequence[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.allowed = allowed

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("The filter ends too early.")
        self.pos += 1
        return token

    def parse(self) -> Any:
        node = self.expr()
        if self.peek() is not None:
            raise FilterError(f"Unexpected {self.peek()!r} in the filter.")
        return node

    def expr(self) -> Any:
        node = self.conjunction()
        while self.peek() == ("join", "or"):
            self.take()
            node = _Join("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.atom()
        while self.peek() == ("join", "and"):
            self.take()
            node = _Join("and", node, self.atom())
        return node

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "(":
            node = self.expr()
            if self.take()[0] != ")":
                raise FilterError("A '(' in the filter is not closed.")
            return node
        if kind != "text" or not text:
            raise FilterError("A filter predicate must start with a property name.")
        name = text.replace(_WILDCARD, "*")
        if name not in self.allowed:
            raise FilterError(f"Filtering is not allowed on property '{name}'.")
        kind, op = self.take()
        if kind != "op" or op is None:
            raise FilterError(f"Expected an operator after '{name}'.")
        if op in ("in", "nin"):
            return _Predicate(name, op, "", self.array())
        parts: list[str] = []
        is_null = False
        while (token := self.peek()) is not None and token[0] in ("text", ",", "null"):
            self.take()
            if token[0] == "null":
                is_null = True
            else:
                parts.append(token[1] or ",")
        if is_null and not parts:
            return _Predicate(name, op, None)
        return _Predicate(name, op, "".join(parts))

    def array(self) -> tuple[str | None, ...]:
        if self.take()[0] != "[":
            raise FilterError("$in: and $nin: take a list in brackets, e.g. customerNumber$in:[2,5,7].")
        values: list[str | None] = []
        while True:
            kind, text = self.take()
            if kind == "null":
                values.append(None)
            elif kind == "text" and text is not None:
                values.append(text.strip())
            elif kind == "]" and not values:
                break
            else:
                raise FilterError("Unexpected token in a $in:/$nin: list.")
            kind, _ = self.take()
            if kind == "]":
                break
            if kind != ",":
                raise FilterError("Values in a $in:/$nin: list are separated by commas.")
        if len(values) > 200:
            raise FilterError("A $in:/$nin: list has at most 200 values.")
        for value in values:
            if value is not None:
                try:
                    Decimal(value)
                except InvalidOperation:
                    raise FilterError("$in: and $nin: are only allowed on numeric properties.") from None
        return tuple(values)


def parse_filter(text: str, allowed: Sequence[str]) -> Any:
    return _FilterParser(_tokens(text), allowed).parse()


class SortError(ValueError):
    pass


def parse_sort(text: str, allowed: Sequence[str]) -> list[tuple[str, bool]]:
    """`sort=name`, `sort=-name`, `sort=name,-customerNumber` as [(property, descending)]."""
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if not name:
            raise SortError("A sort property is missing: sort=name, or sort=-name for descending.")
        if name not in allowed:
            raise SortError(f"Sorting is not allowed on property '{name}'.")
        keys.append((name, descending))
    return keys


def _sort_key(value: Any) -> tuple[int, Decimal, str]:
    """Missing values first, then numbers (and booleans), then strings without case, then the rest."""
    if value is None:
        return (0, Decimal(0), "")
    if isinstance(value, bool | int | Decimal | float):
        return (1, Decimal(str(int(value) if isinstance(value, bool) else value)), "")
    if isinstance(value, str):
        return (2, Decimal(0), value.casefold())
    return (3, Decimal(0), dumps(value))


def sort_documents(documents: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, bool]]) -> list[Any]:
    """The documents in the order of `keys` (the first decides, the next break ties...); documents the
    keys do not tell apart keep their order (stable sorts, from the last key to the first)."""
    ordered = list(documents)
    for name, descending in reversed(keys):
        ordered.sort(key=lambda d: _sort_key(_dig(d, name)), reverse=descending)
    return ordered


def _dig(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _compare(actual: Any, text: str) -> int | None:
    """-1/0/1 comparing a document value with a filter value; None when they cannot be compared."""
    a: Any
    b: Any
    if isinstance(actual, bool):
        a, b = str(actual).lower(), text.strip().lower()
    elif isinstance(actual, int | Decimal | float):
        try:
            a, b = Decimal(str(actual)), Decimal(text)
        except InvalidOperation:
            return None
    elif isinstance(actual, str):
        a, b = actual.casefold(), text.replace(_WILDCARD, "*").casefold()
    else:
        return None
    return int(a > b) - int(a < b)


def matches(document: Mapping[str, Any], node: Any) -> bool:
    if isinstance(node, _Join):
        if node.op == "and":
            return matches(document, node.left) and matches(document, node.right)
        return matches(document, node.left) or matches(document, node.right)
    assert isinstance(node, _Predicate)
    actual = _dig(document, node.field)
    if node.op in ("in", "nin"):
        found = any(
            (actual is None) if v is None else (actual is not None and _compare(actual, v) == 0) for v in node.values
        )
        return found if node.op == "in" else not found
    if node.value is None:
        return (actual is None) == (node.op == "eq")
    if actual is None:
        return node.op == "ne"
    if node.op == "like":
        # e-conomic/slate@8abdb42 source/includes/_introduction.md, "Substring matching": `*` is a
        # wildcard; without one the value is a contains match ("a wildcard at the start of the string and
        # one at the end"); "Filtering on strings is case insensitive".
        if not isinstance(actual, str):
            return False
        pattern = node.value if _WILDCARD in node.value else f"{_WILDCARD}{node.value}{_WILDCARD}"
        regex = ".*".join(re.escape(part) for part in pattern.split(_WILDCARD))
        return re.fullmatch(regex, actual, re.IGNORECASE | re.DOTALL) is not None
    order = _compare(actual, node.value)
    if order is None:
        return node.op == "ne"
    return {"eq": order == 0, "ne": order != 0, "gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[
        node.op
    ]
