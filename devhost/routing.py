"""ASP.NET route templates, as the Functions host matches HTTP trigger routes.

The host routes requests with ASP.NET's template syntax ("Customize an HTTP endpoint" in Microsoft's
HTTP trigger docs, and "Route constraints" in ASP.NET routing):

* literal segments match case-insensitively (`Orders` matches `/orders`);
* `{name}` takes one non-empty segment, `{name?}` may be left out, `{name=value}` has a default;
* `{name:int}`, `{name:alpha}`, `{name:guid}` and the other inline constraints restrict the value
  (several may be chained: `{id:int:min(1)}`);
* `{*rest}` (or `{**rest}`) takes the rest of the path, slashes included, and may be empty;
* a segment may mix literals and parameters (`{name}.{ext}`).

When several routes match, the most specific wins (ASP.NET's inbound precedence): literal segments
before constrained parameters before plain parameters before catch-alls, segment by segment. Azure
Functions itself does NOT do this: it matches in the order it registers routes
(azure-functions-host#9876), so `functions.overlapping_routes` warns about routes that overlap.
Matched values are percent-decoded; an encoded slash (`%2F`) stays inside its segment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from devhost.route_constraints import Constraint, RouteTemplateError, parse_constraint

__all__ = ["Parameter", "RouteTemplate", "RouteTemplateError", "split_path"]


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    @property
    def omittable(self) -> bool:
        return self.optional or self.default is not None or self.catch_all

    def accepts(self, value: str) -> bool:
        return all(constraint.accepts(value) for constraint in self.constraints)


@dataclass(frozen=True)
class Segment:
    parts: tuple[str | Parameter, ...]
    pattern: re.Pattern[str] | None = None
    """Only for complex segments (several parts): the regular expression that splits a path segment."""

    @property
    def literal(self) -> str | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return self.parts[0]
        return None

    @property
    def parameter(self) -> Parameter | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], Parameter):
            return self.parts[0]
        return None

    @property
    def precedence(self) -> int:
        # RoutePrecedence.ComputeInbound: literal 1, complex 2, constrained parameter 3, parameter 4,
        # catch-all 5 -- lower digits are tried first.
        if self.literal is not None:
            return 1
        parameter = self.parameter
        if parameter is None:
            return 2
        if parameter.catch_all:
            return 5
        return 3 if parameter.constraints else 4


def split_path(raw_path: str) -> list[str]:
    """Split a raw (still percent-encoded) URL path into decoded segments. A trailing slash is
    ignored, as ASP.NET routing does; `%2F` stays inside its segment."""
    from urllib.parse import unquote

    trimmed = raw_path.strip("/")
    if not trimmed:
        return []
    return [unquote(segment, errors="replace") for segment in trimmed.split("/")]


class RouteTemplate:
    """One route template, with the host's route prefix in front."""

    def __init__(self, route: str, prefix: str = "") -> None:
        route = route.strip().lstrip("~").strip("/")
        prefix = prefix.strip().strip("/")
        self.route = route
        self.prefix = prefix
        self.text = "/" + "/".join(part for part in (prefix, route) if part)
        """The full template as a URL path, e.g. `/api/items/{id:int}` (shown in the banner)."""
        segments = [_parse_segment(s, route) for s in _split_template(prefix)] if prefix else []
        segments += [_parse_segment(s, route) for s in _split_template(route)] if route else []
        self.segments: tuple[Segment, ...] = tuple(segments)
        self._check()
        self.precedence: tuple[int, ...] = tuple(segment.precedence for segment in self.segments)
        self.parameter_names: tuple[str, ...] = tuple(
            part.name for segment in self.segments for part in segment.parts if isinstance(part, Parameter)
        )

    def __repr__(self) -> str:
        return f"RouteTemplate({self.text!r})"

    def sort_key(self) -> tuple[tuple[int, ...], str]:
        return (self.precedence, self.text.casefold())

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """The route values for a decoded path, or None when the path does not match."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(segments[index:])
                if rest:
                    if not parameter.accepts(rest):
                        return None
                    values[parameter.name] = rest
                elif parameter.default is not None:
                    values[parameter.name] = parameter.default
                return values
            if index >= len(segments):
                return self._fill_omitted(index, values)
            value = segments[index]
            literal = segment.literal
            if literal is not None:
                if value.casefold() != literal.casefold():
                    return None
            elif parameter is not None:
                if not value or not parameter.accepts(value):
                    return None
                values[parameter.name] = value
            elif not _match_complex(segment, value, values):
                return None
        if len(segments) != len(self.segments):
            return None
        return values

    def _fill_omitted(self, start: int, values: dict[str, str]) -> dict[str, str] | None:
        for segment in self.segments[start:]:
            parameter = segment.parameter
            if parameter is None or not parameter.omittable:
                return None
            if parameter.default is not None:
                values[parameter.name] = parameter.default
        return values

    def _check(self) -> None:
        names: set[str] = set()
        last = len(self.segments) - 1
        for index, segment in enumerate(self.segments):
            for part in segment.parts:
                if not isinstance(part, Parameter):
                    continue
                if part.name.casefold() in names:
                    raise RouteTemplateError(f"route {self.route!r}: parameter {part.name!r} appears twice")
                names.add(part.name.casefold())
                if part.catch_all and (index != last or segment.parameter is None):
                    raise RouteTemplateError(f"route {self.route!r}: a catch-all must be the last segment")
                if (part.optional or part.default is not None) and segment.parameter is None:
                    raise RouteTemplateError(
                        f"route {self.route!r}: optional parameters inside a complex segment are not supported"
                    )
        # An omittable segment may only be followed by omittable ones (ASP.NET rejects the others).
        seen_omittable = False
        for segment in self.segments:
            parameter = segment.parameter
            omittable = parameter is not None and parameter.omittable
            if seen_omittable and not omittable:
                raise RouteTemplateError(
                    f"route {self.route!r}: an optional parameter must be at the end of the template"
                )
            seen_omittable = seen_omittable or omittable


def _match_complex(segment: Segment, value: str, values: dict[str, str]) -> bool:
    assert segment.pattern is not None
    match = segment.pattern.fullmatch(value)
    if match is None:
        return False
    parameters = [part for part in segment.parts if isinstance(part, Parameter)]
    found = dict(zip((p.name for p in parameters), match.groups(), strict=True))
    if not all(parameter.accepts(found[parameter.name]) for parameter in parameters):
        return False
    values.update(found)
    return True


# --- parsing -------------------------------------------------------------------------------------------


def _split_template(template: str) -> list[str]:
    """Split on "/" outside parameters (a regex constraint may contain a slash). `{{` and `}}` are
    escaped braces, inside a parameter as outside."""
    segments: list[str] = []
    current: list[str] = []
    in_parameter = False
    index = 0
    while index < len(template):
        if template.startswith(("{{", "}}"), index):
            current.append(template[index : index + 2])
            index += 2
            continue
        char = template[index]
        if char == "/" and not in_parameter:
            segments.append("".join(current))
            current = []
            index += 1
            continue
        if char == "{":
            in_parameter = True
        elif char == "}":
            in_parameter = False
        current.append(char)
        index += 1
    segments.append("".join(current))
    return segments


def _parse_segment(text: str, route: str) -> Segment:
    if text == "":
        raise RouteTemplateError(f"route {route!r} has an empty segment")
    parts: list[str | Parameter] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if text.startswith("{{", index) or text.startswith("}}", index):
            literal.append(char)
            index += 2
        elif char == "{":
            end = _parameter_end(text, index + 1, route)
            if literal:
                parts.append("".join(literal))
                literal = []
            if parts and isinstance(parts[-1], Parameter):
                raise RouteTemplateError(f"route {route!r}: two parameters need a literal between them")
            parameter_text = text[index + 1 : end].replace("{{", "{").replace("}}", "}")
            parts.append(_parse_parameter(parameter_text, route))
            index = end + 1
        elif char == "}":
            raise RouteTemplateError(f"route {route!r}: unbalanced '}}'")
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    pattern = None
    if len(parts) > 1:
        regex = []
        for position, part in enumerate(parts):
            if isinstance(part, Parameter):
                regex.append("(.+)" if position == len(parts) - 1 else "(.+?)")
            else:
                regex.append(re.escape(part))
        pattern = re.compile("".join(regex), re.IGNORECASE | re.DOTALL)
    return Segment(parts=tuple(parts), pattern=pattern)


def _parameter_end(text: str, start: int, route: str) -> int:
    index = start
    while index < len(text):
        if text.startswith(("{{", "}}"), index):
            index += 2
            continue
        if text[index] == "}":
            return index
        index += 1
    raise RouteTemplateError(f"route {route!r}: unclosed '{{'")


_NAME = re.compile(r"^[^{}/?*=:]+$")


def _parse_parameter(text: str, route: str) -> Parameter:
    catch_all = False
    if text.startswith("**"):
        catch_all, text = True, text[2:]
    elif text.startswith("*"):
        catch_all, text = True, text[1:]

    default: str | None = None
    optional = False
    name_end = len(text)
    for stop in (":", "=", "?"):
        position = text.find(stop)
        if position != -1:
            name_end = min(name_end, position)
    name, rest = text[:name_end].strip(), text[name_end:]
    if not _NAME.match(name):
        raise RouteTemplateError(f"route {route!r}: invalid parameter name {name!r}")

    constraints: list[Constraint] = []
    index = 0
    while index < len(rest) and rest[index] == ":":
        index += 1
        start = index
        depth = 0
        while index < len(rest):
            char = rest[index]
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif depth == 0 and char in ":=?":
                break
            index += 1
        constraints.append(parse_constraint(rest[start:index], route))
    tail = rest[index:]
    if tail == "?":
        optional = True
    elif tail.startswith("="):
        default = tail[1:]
    elif tail:
        raise RouteTemplateError(f"route {route!r}: cannot read parameter {{{text}}}")
    if catch_all and optional:
        optional = False  # a catch-all is optional already
    return Parameter(name=name, constraints=tuple(constraints), optional=optional, default=default, catch_all=catch_all)
