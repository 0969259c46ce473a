"""The HTTP side: a WSGI app that routes to HTTP-triggered functions, served by waitress."""

from __future__ import annotations

import http
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import azure.functions as func
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask

from devhost.functions import HttpFunction, Invoker
from devhost.routing import split_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from devhost.admin import OnDemandRunner

log = logging.getLogger("devhost")

AZURE_MAX_BODY_BYTES = 100 * 1024 * 1024
"""Azure rejects request bodies over 100 MB (104,857,600 bytes) with 413 ("Functions HTTP trigger:
Limits"). `DEVHOST_MAX_BODY_BYTES` lowers it, so tests can check the rejection cheaply."""

SECRET_QUERY_KEYS = frozenset({"apikey", "code", "sig"})
"""Query parameters whose values never reach the log: our API key (`apikey`, any case), the Functions
key (`code`) and SAS signatures (`sig`)."""

# Headers WSGI servers own (PEP 3333 forbids an app from setting hop-by-hop headers).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def default_thread_count() -> int:
    """`PYTHON_THREADPOOL_THREAD_COUNT` if set, else the Python worker's default for Python 3.9+:
    `min(32, os.cpu_count() + 4)` (ThreadPoolExecutor's own default)."""
    raw = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    if raw:
        try:
            count = int(raw)
        except ValueError:
            count = 0
        if count >= 1:
            return count
        log.warning("PYTHON_THREADPOOL_THREAD_COUNT=%r is not a positive whole number; ignoring it", raw)
    return min(32, (os.cpu_count() or 1) + 4)


def max_body_bytes() -> int:
    raw = os.environ.get("DEVHOST_MAX_BODY_BYTES", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else AZURE_MAX_BODY_BYTES


def redact_query(query: str) -> str:
    """The query string with the values of secret parameters replaced by `***`. Each pair keeps its
    raw spelling otherwise; keys are compared decoded and case-insensitively."""
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        key, separator, _value = pair.partition("=")
        if separator and unquote_plus(key).strip().lower() in SECRET_QUERY_KEYS:
            pairs.append(f"{key}=***")
        else:
            pairs.append(pair)
    return "&".join(pairs)


def log_access(method: str, raw_path: str, raw_query: str, status: int, started: float) -> None:
    """One line per request: method, path and query (secrets redacted), status, duration. No headers."""
    target = raw_path + ("?" + redact_query(raw_query) if raw_query else "")
    log.info("%s %s %d %.1fms", method or "-", target, status, (time.perf_counter() - started) * 1000)


ADMIN_SEGMENT = "admin"
"""The host keeps `/admin/...` for its own API, whatever the route prefix (it refuses function routes
that start with "admin"), so with routePrefix "" an admin path must never reach a function."""


class AdminRequestError(ValueError):
    """An admin request the host answers with 400."""


class FunctionsWsgiApp:
    """Routes each request to the first matching HTTP function, the way the Functions host does; paths
    under `/admin/` go to the host's admin API (`POST /admin/functions/{name}` only)."""

    def __init__(
        self, functions: Sequence[HttpFunction], invoker: Invoker, on_demand: OnDemandRunner | None = None
    ) -> None:
        self.functions = tuple(functions)
        self.invoker = invoker
        self.on_demand = on_demand

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw_path, raw_query = _raw_target(environ)
        status: int = 500
        headers: list[tuple[str, str]] = []
        body = b""
        try:
            status, headers, body = self._handle(environ, method, raw_path, raw_query)
        except Exception:
            log.exception("devhost failed to handle %s %s", method, raw_path)
            status, headers, body = 500, [], b""
        finally:
            log_access(method, raw_path, raw_query, status, started)
        if status in (204, 304) or status < 200:
            start_response(_status_line(status), headers)  # no body, so no Content-Length
            return [b""]
        start_response(_status_line(status), [*headers, ("Content-Length", str(len(body)))])
        # A HEAD response announces the length of the body it does not send (waitress would send it).
        return [b""] if method == "HEAD" else [body]

    def _handle(
        self, environ: WSGIEnvironment, method: str, raw_path: str, raw_query: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        segments = split_path(raw_path)
        if segments and segments[0].lower() == ADMIN_SEGMENT:
            return self._admin(environ, method, segments)
        for function in self.functions:
            route_params = function.route.match(segments)
            if route_params is None:
                continue
            # A route whose methods exclude this one is no match: the host answers 404, not 405.
            if function.methods is not None and method not in function.methods:
                continue
            return self._invoke(function, environ, method, raw_path, raw_query, route_params)
        return 404, [], b""

    def _admin(
        self, environ: WSGIEnvironment, method: str, segments: list[str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """`POST /admin/functions/{name}` with `{"input": ...}`: 202 once the run has started, 404 for
        a name that is no non-HTTP function, 400 for a body that is no such JSON object. Anything else
        under `/admin/` is not served by devhost: 404."""
        is_invoke = len(segments) == 3 and segments[1].lower() == "functions" and method == "POST"
        if not is_invoke or self.on_demand is None:
            return 404, [], b""
        try:
            input_text = admin_input(str(environ.get("CONTENT_TYPE") or ""), _read_body(environ))
        except AdminRequestError as exc:
            log.warning("POST /admin/functions/%s: %s", segments[2], exc)
            return 400, [], b""
        if not self.on_demand.submit(segments[2], input_text):
            return 404, [], b""
        return 202, [], b""

    def _invoke(
        self,
        function: HttpFunction,
        environ: WSGIEnvironment,
        method: str,
        raw_path: str,
        raw_query: str,
        route_params: dict[str, str],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        request = func.HttpRequest(
            method,
            _request_url(environ, raw_path, raw_query),
            headers=_request_headers(environ),
            params=query_params(raw_query),
            route_params=route_params,
            body=_read_body(environ),
        )
        target = function.target
        context = self.invoker.new_context(target)
        try:
            result = self.invoker.call(target, request, context)
            return to_wsgi_response(result)
        except Exception:
            # The host answers an unhandled exception with an empty 500; the details go to the log.
            log.exception("Executed 'Functions.%s' (Failed, Id=%s)", target.name, context.invocation_id)
            return 500, [], b""


def admin_input(content_type: str, body: bytes) -> str | None:
    """The `input` of an admin invocation body, as the host's `FunctionInvocation` model binds it: a
    JSON object (sent as application/json) whose `input` (any case) is a string, number or boolean,
    read as a string; absent or null is None."""
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise AdminRequestError("the body must be JSON (Content-Type: application/json)")
    try:
        document = json.loads(body or b"null")
    except ValueError:
        raise AdminRequestError("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise AdminRequestError('the body must be a JSON object such as {"input": ""}')
    value = next((v for k, v in document.items() if isinstance(k, str) and k.lower() == "input"), None)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)  # Json.NET reads true as "True", as str() does
    raise AdminRequestError("input must be a string, a number or a boolean")


def query_params(raw_query: str) -> dict[str, str]:
    """`req.params` as the host builds it: ASP.NET's query collection (keys case-insensitive, the
    first spelling kept, repeated values joined with ","), minus parameters whose value is empty (the
    host skips them, see azure-functions-python-worker#894)."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        entry = grouped.setdefault(key.casefold(), (key, []))
        entry[1].append(value)
    params = {}
    for name, values in grouped.values():
        joined = ",".join(values)
        if joined:
            params[name] = joined
    return params


def to_wsgi_response(result: object) -> tuple[int, list[tuple[str, str]], bytes]:
    """Convert what the function returned, as the worker's HTTP output converter does: an
    `HttpResponse`, or a `str` (sent as a 200 text/plain response). Anything else is a failed
    invocation (the worker raises "unable to encode outgoing TypedData")."""
    if isinstance(result, str):
        return 200, [("Content-Type", "text/plain; charset=utf-8")], result.encode("utf-8")
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function must return azure.functions.HttpResponse or str, not {type(result)}")
    headers = [(name, value) for name, value in result.headers.items() if name.lower() not in _HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype: str = result.mimetype
        content_type = f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
        headers.append(("Content-Type", content_type))
    body = result.get_body() or b""
    return int(result.status_code), headers, body


def _raw_target(environ: WSGIEnvironment) -> tuple[str, str]:
    """Path and query as the client sent them (still percent-encoded), so `%2F` stays in its segment."""
    uri = str(environ.get("REQUEST_URI") or "")
    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        return parts.path or "/", parts.query
    if uri:
        path, _, query = uri.partition("?")
        return path or "/", query
    return str(environ.get("PATH_INFO") or "/"), str(environ.get("QUERY_STRING") or "")


def _request_url(environ: WSGIEnvironment, raw_path: str, raw_query: str) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT')}"
    return f"{scheme}://{host}{raw_path}" + (f"?{raw_query}" if raw_query else "")


def _request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key
        else:
            continue
        # The host lower-cases header names and skips empty values.
        if isinstance(value, str) and value:
            headers[name.replace("_", "-").lower()] = value
    return headers


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    stream = environ["wsgi.input"]
    return cast(bytes, stream.read(length))


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


# --- waitress --------------------------------------------------------------------------------------------


class _LoggedErrorTask(ErrorTask):
    """Waitress answers some requests itself, before the app sees them (413 for a body over the limit,
    400 for a malformed request). Log those in the access log too."""

    def execute(self) -> None:
        started = time.perf_counter()
        super().execute()
        request: Any = self.request  # an HTTPRequestParser (the stubs say otherwise)
        command = getattr(request, "command", b"")
        method = command.decode("latin-1") if isinstance(command, bytes) else str(command or "")
        status = int(self.status.split(" ", 1)[0])
        log_access(
            method, str(getattr(request, "path", "") or "-"), str(getattr(request, "query", "")), status, started
        )


class _Channel(HTTPChannel):
    error_task_class = _LoggedErrorTask


def create_http_server(app: FunctionsWsgiApp, *, host: str, port: int, threads: int, body_limit: int) -> BaseWSGIServer:
    """A waitress server bound to host:port (not yet serving: call `.run()`)."""
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        # Many idle keep-alive connections (load tests, Logic Apps retries) must not exhaust the server.
        connection_limit=1000,
        # Close idle connections after 2 minutes; a request that is being processed is never cut.
        channel_timeout=120,
        cleanup_interval=30,
        # Waitress refuses a body whose Content-Length is >= this before reading it (and a chunked body
        # as soon as it grows past it), answering 413.
        max_request_body_size=body_limit + 1,
        asyncore_use_poll=True,
        expose_tracebacks=False,
        ident="devhost",
    )
    if not isinstance(server, BaseWSGIServer):  # only with several listen addresses
        raise RuntimeError("devhost listens on one address")
    server.channel_class = _Channel
    return server


_SECRET_IN_URL = re.compile(r"(?i)([?&](?:apikey|code|sig)=)[^&\s#'\"]*")


class RedactingFormatter(logging.Formatter):
    """A safety net on every log line: the values of secret query parameters in any URL that ends up
    in a message (an SDK error quoting a request URL, say) are replaced by `***`."""

    def format(self, record: logging.LogRecord) -> str:
        return _SECRET_IN_URL.sub(r"\1***", super().format(record))
