"""What goes over the wire to e-conomic: JSON bodies with exact `Decimal` money, answers read with
`Decimal`, values for the `filter` syntax, and `Retry-After`."""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

_FILTER_ESCAPES = str.maketrans({"$": "$$", "(": "$(", ")": "$)", "*": "$*", ",": "$,"})
"""e-conomic's filter escapes (e-conomic/slate@8abdb42 source/includes/_introduction.md, "Escaping special
characters in your filter": `$`->`$$`, `(`->`$(`, `)`->`$)`, `*`->`$*`, `,`->`$,`, `[`->`$[`, `]`->`$]`),
without the brackets: e-conomic does not honour `$[`/`$]`, a filter with them matches nothing (issue 15,
item 16). Whether an unescaped bracket is safe is documented nowhere either, so a value with a bracket is
never put into a filter at all: see `FILTER_UNSAFE` and `shared.adapters.economic.documents`."""
FILTER_UNSAFE = frozenset("[]")
"""Characters no filter value of ours carries: escaped they match nothing, unescaped they are the syntax
of `$in:[..]`."""


def dumps(value: Any) -> str:
    """JSON text for a request body. `Decimal` is written exactly as it is (`Decimal("12.50")` ->
    `12.50`); a float or `None` is refused (`ValueError`/`TypeError` naming where), as are non-string
    keys and non-finite decimals."""
    return _dumps(value, "body")


def _dumps(value: Any, where: str) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where}: {value} is not a number e-conomic accepts")
        return format(value, "f")
    if value is None:
        raise ValueError(f"{where}: e-conomic refuses null; leave the field out")
    if isinstance(value, float):
        raise TypeError(f"{where}: use Decimal, not float, for numbers with decimals")
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings")
            parts.append(f"{json.dumps(key, ensure_ascii=False)}:{_dumps(item, f'{where}.{key}')}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(item, f"{where}[{i}]") for i, item in enumerate(value)) + "]"
    raise TypeError(f"{where}: cannot send {type(value).__name__} as JSON")


def escape_filter_value(value: str) -> str:
    """A value for e-conomic's `filter` syntax: `$ ( ) * ,` escaped (`$$`, `$(`, ...). Brackets are
    left as they are (`$[`/`$]` match nothing on e-conomic); callers keep them out of filters."""
    return value.translate(_FILTER_ESCAPES)


def parse(response: requests.Response) -> Any:
    """The answer's JSON (numbers with a fraction as `Decimal`); None when empty or not JSON."""
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)
