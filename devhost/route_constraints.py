"""Inline route constraints (`{id:int}`, `{name:alpha}`, `{d:datetime}`, `{n:range(1,9)}`, ...), as ASP.NET
routing defines them ("Route constraints" in the ASP.NET Core routing docs), for `devhost.routing`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


class RouteTemplateError(ValueError):
    """The route template is malformed or uses a constraint this host does not know."""


@dataclass(frozen=True)
class Constraint:
    text: str
    accepts: Callable[[str], bool]


_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_FLOAT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_ALPHA = re.compile(r"^[A-Za-z]*$")


def _integer_between(low: int, high: int) -> Callable[[str], bool]:
    def accepts(value: str) -> bool:
        return bool(_INTEGER.match(value)) and low <= int(value) <= high

    return accepts


def _is_guid(value: str) -> bool:
    # Guid.TryParse accepts the D, N, B and P formats (and X, which nobody puts in a URL).
    text = value.strip()
    if len(text) == 38 and (text[0], text[-1]) in (("{", "}"), ("(", ")")):
        text = text[1:-1]
    if len(text) not in (32, 36):
        return False
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 32 or (text[8], text[13], text[18], text[23]) == ("-", "-", "-", "-")


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _int_args(args: str, count: tuple[int, ...], text: str, route: str) -> list[int]:
    try:
        numbers = [int(item.strip()) for item in args.split(",")] if args.strip() else []
    except ValueError:
        numbers = []
    if len(numbers) not in count:
        raise RouteTemplateError(f"route {route!r}: bad arguments in constraint {text!r}")
    return numbers


def parse_constraint(text: str, route: str) -> Constraint:
    match = re.match(r"^([A-Za-z]+)(?:\((.*)\))?$", text, re.DOTALL)
    if match is None:
        raise RouteTemplateError(f"route {route!r}: cannot read constraint {text!r}")
    name, args = match.group(1).lower(), match.group(2)
    if args is None:
        simple: dict[str, Callable[[str], bool]] = {
            "int": _integer_between(-(2**31), 2**31 - 1),
            "long": _integer_between(-(2**63), 2**63 - 1),
            "bool": lambda v: v.lower() in ("true", "false"),
            "alpha": lambda v: bool(_ALPHA.match(v)),
            "guid": _is_guid,
            "decimal": lambda v: bool(_DECIMAL.match(v)),
            "double": lambda v: bool(_FLOAT.match(v)),
            "float": lambda v: bool(_FLOAT.match(v)),
            "datetime": _is_datetime,
            "required": lambda v: v != "",
        }
        if name not in simple:
            raise RouteTemplateError(f"route {route!r}: constraint {text!r} is not supported by devhost")
        return Constraint(text=text, accepts=simple[name])
    if name == "regex":
        try:
            # RegexRouteConstraint: culture-invariant, case-insensitive, not anchored unless the
            # pattern anchors itself.
            compiled = re.compile(args, re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(f"route {route!r}: bad regex in {text!r}: {exc}") from None
        return Constraint(text=text, accepts=lambda v: compiled.search(v) is not None)
    if name in ("minlength", "maxlength"):
        (limit,) = _int_args(args, (1,), text, route)
        if name == "minlength":
            return Constraint(text=text, accepts=lambda v: len(v) >= limit)
        return Constraint(text=text, accepts=lambda v: len(v) <= limit)
    if name == "length":
        numbers = _int_args(args, (1, 2), text, route)
        low, high = (numbers[0], numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
        return Constraint(text=text, accepts=lambda v: low <= len(v) <= high)
    if name in ("min", "max", "range"):
        numbers = _int_args(args, (2,) if name == "range" else (1,), text, route)
        low = numbers[0] if name in ("min", "range") else -(2**63)
        high = numbers[-1] if name in ("max", "range") else 2**63 - 1
        return Constraint(text=text, accepts=_integer_between(low, high))
    raise RouteTemplateError(f"route {route!r}: constraint {text!r} is not supported by devhost")
