"""How deep JSON input may nest, checked before `json.loads` reads it.

`json.loads` (and pydantic after it) recurse once per level: a body of a thousand `[` raises
`RecursionError`, which no handler expects. Nothing the service takes nests deeper than a few levels,
so every JSON input (request bodies, queue messages, the import CLI's files) is first checked for its
depth: no recursion, a few passes each linear in its length. Brackets inside strings do not count.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 32
NESTING_RULE = f"must not nest arrays and objects more than {MAX_JSON_DEPTH} levels deep"

_ESCAPE = re.compile(r"\\.", re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def too_deep(document: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the document opens more than `limit` arrays and objects inside each other (outside its
    strings). Invalid JSON is left to `json.loads` to name: it stops reading where this stops counting."""
    if document.count("[") + document.count("{") <= limit:
        return False
    # Without its escapes (`\"` among them) every string is a plain "...": the even pieces between
    # quotes are what lies outside strings (an unterminated string runs to the end, as for json.loads).
    outside = "".join(_ESCAPE.sub("", document).split('"')[::2])
    depth = 0
    for char in _NOT_BRACKET.sub("", outside):
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
    return False
