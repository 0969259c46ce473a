"""The workbench's files and the headers they are served with.

Only the files listed in `ASSETS` are served (never a path from the request), each with its own media
type. Every answer carries a Content-Security-Policy that allows scripts, styles and API calls from
this origin only and no inline script: the page builds its DOM with `textContent`, never with markup
from data, and the policy is the second line of defence should that ever slip. `frame-ancestors 'none'`
keeps the page out of other sites' frames (clickjacking); downloads (PDF, CSV) are `blob:` URLs the
page makes itself, which need no policy entry (an `<a download>` navigates nowhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared.web.types import ApiResponse

STATIC = Path(__file__).resolve().parent / "static"
PAGE_ROUTE = "workbench"
ASSET_ROUTE = "workbench/{file}"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}

ASSETS = (
    "index.html",
    "app.css",
    "app.js",
    "api.js",
    "dom.js",
    "orders.js",
    "lines.js",
    "invoices.js",
    "settings.js",
    "favicon.svg",
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


@cache
def asset(name: str) -> Asset | None:
    """The file `name` of the page, or None when it is not one of its files."""
    if name not in ASSETS:
        return None
    path = STATIC / name
    return Asset(path.read_bytes(), _TYPES[path.suffix])


HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Fetched anew every time (they are small): after a deploy the page and its modules never mix
    # versions.
    "Cache-Control": "no-cache",
}


def page_response() -> ApiResponse:
    return file_response("index.html")


def file_response(name: str) -> ApiResponse:
    found = asset(name)
    if found is None:
        return ApiResponse(
            404,
            b"Not found: the workbench has no such file.\n",
            dict(HEADERS),
            content_type="text/plain",
        )
    return ApiResponse(200, found.body, dict(HEADERS), content_type=found.content_type)
