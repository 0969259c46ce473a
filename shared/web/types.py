"""Framework-neutral HTTP request and response, so services never see `azure.functions`, and the
public address a request reached us at."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.text import readable


@dataclass(frozen=True)
class ApiRequest:
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes
    route_params: Mapping[str, str] = field(default_factory=dict)
    """Values of the route template's parameters, e.g. `draftId` in `invoicing/drafts/{draftId}`."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class ApiResponse:
    status: int
    body: dict[str, Any] | list[Any] | bytes
    """A JSON document, or the raw bytes of another media type (`content_type`)."""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def content(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        # Stored text reads back as valid Unicode (shared.text.readable); should a lone surrogate reach
        # an answer some other way, it is shown as U+FFFD rather than failing the whole answer.
        text = dumps(self.body)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return readable(text).encode("utf-8")


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        # Hours and quantities travel as JSON numbers. They carry at most 4 decimals and stay far
        # below 2**53, where a float's shortest repr is exactly the decimal's text (1.25 -> 1.25).
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: Any) -> str:
    return json.dumps(body, default=_default, ensure_ascii=False, separators=(",", ":"))


_HOST = re.compile(r"[A-Za-z0-9.-]+(?::\d{1,5})?")


def public_host(headers: Mapping[str, str]) -> tuple[str | None, str]:
    host = (headers.get("x-forwarded-host") or headers.get("host") or "").split(",")[0].strip()
    proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        local = host.split(":")[0] in ("localhost", "127.0.0.1")
        proto = "http" if local else "https"
    return (host if _HOST.fullmatch(host) else None), proto


def public_base_url(headers: Mapping[str, str]) -> str:
    """`scheme://host` the caller reached us at (for links in answers); "" when the host is unusable."""
    host, proto = public_host(headers)
    return f"{proto}://{host}" if host else ""
