"""Text that cannot be stored and read back: a lone UTF-16 surrogate (`"\\udc80"` in JSON) decodes
to a Python string that no UTF-8 encoder takes. Refused at every edge with the field named (HTTP
bodies, queue messages, import files); rows stored before that rule are read back with U+FFFD in
its place, so they can still be listed, exported or deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SURROGATE_RULE = "must be valid Unicode text (it holds a lone UTF-16 surrogate, e.g. \\udc80)"


def encodable(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (one pass in C)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (for rows stored before the rule)."""
    if encodable(text):
        return text
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def first_unencodable(document: Any) -> str | None:
    """The path (`hint`, `AdditionalSearchData.Search`, `lines[2]`) of the first key or string in a
    parsed JSON document that cannot be written as UTF-8; None when there is none. Iterative, linear."""
    for path, text in _strings(document):
        if not encodable(text):
            return path or "body"
    return None


def _strings(document: Any) -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path, node
        elif isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                child = f"{path}.{key}" if path else str(key)
                yield child, str(key)
                stack.append((child, value))
        elif isinstance(node, list):
            for index in reversed(range(len(node))):
                stack.append((f"{path}[{index}]", node[index]))
