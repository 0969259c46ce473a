"""A local stand-in for Azure Key Vault's secrets API, over HTTPS, for tests that drive the real
`SecretClient`.

It speaks the wire format the SDK expects: `GET /secrets/{name}` and `/secrets/{name}/{version}` with
`api-version`; a request without a bearer token gets Key Vault's 401 challenge
(`WWW-Authenticate: Bearer authorization=..., resource=...`); a missing secret is Key Vault's 404
`SecretNotFound` error body. It can be told to fail: `stop()` (connection refused), `fail_with(429,
retry_after=...)`, `fail_with(500)`; `hold()` keeps answers back until released. It counts what it was
asked, so tests can tell a cache hit from a fetch.

The TLS certificate is self-signed for 127.0.0.1 and localhost, made here with `cryptography`; clients
trust it with `connection_verify=standin.certificate`.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT_ID = "3f1c2a9e-5d7b-4c8e-9a01-6b2d4e8f0c13"
ACCESS_TOKEN = "standin-access-token"
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", resource="https://vault.azure.net"'
SCOPE = "https://vault.azure.net/.default"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "standin.crt", directory / "standin.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class StaticCredential:
    """A `TokenCredential` that hands out the stand-in's token and remembers what it was asked for."""

    def __init__(self) -> None:
        self.requests: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(self, *scopes: str, tenant_id: str | None = None, **kwargs: Any) -> AccessToken:
        self.requests.append((scopes, tenant_id))
        return AccessToken(ACCESS_TOKEN, int(datetime.now(UTC).timestamp()) + 3600)


@dataclass(frozen=True)
class Seen:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool


class KeyVaultStandIn:
    def __init__(self, certificate: Path, key: Path) -> None:
        self.certificate = certificate
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(certificate, key)
        self._lock = threading.Lock()
        self._secrets: dict[str, list[tuple[str, str]]] = {}
        self._failure: tuple[int, int | None] | None = None
        self._held: threading.Event | None = None
        self.arrived = threading.Event()
        """Set when a held request has arrived."""
        self.seen: list[Seen] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def start(self) -> KeyVaultStandIn:
        """Listen (again, on the same port after `stop()`)."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="keyvault-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until `start()`."""
        if self._server is not None:
            self.release()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- the vault's content -----------------------------------------------------------------------

    def set_secret(self, name: str, value: str) -> str:
        """Adds a new version (the latest) and returns its id, as `az keyvault secret set` does."""
        version = uuid.uuid4().hex
        with self._lock:
            self._secrets.setdefault(name.lower(), []).append((version, value))
        return version

    def delete_secret(self, name: str) -> None:
        with self._lock:
            self._secrets.pop(name.lower(), None)

    # --- failures ----------------------------------------------------------------------------------

    def fail_with(self, status: int, retry_after: int | None = None) -> None:
        """Answer every authorized request with `status` (429, 500, ...) until `recover()`."""
        self._failure = (status, retry_after)

    def recover(self) -> None:
        self._failure = None

    def hold(self) -> None:
        """Keep authorized requests waiting (after they are counted) until `release()`."""
        self.arrived.clear()
        self._held = threading.Event()

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.set()

    # --- what was asked ----------------------------------------------------------------------------

    def reads(self, name: str) -> int:
        """Authorized requests for secret `name` (any version), whatever they were answered."""
        with self._lock:
            return sum(1 for s in self.seen if s.authorized and s.path.split("/")[2:3] == [name])

    def challenges(self) -> int:
        with self._lock:
            return sum(1 for s in self.seen if not s.authorized)

    # --- answering ---------------------------------------------------------------------------------

    def answer(self, method: str, target: str, authorization: str | None) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        path = unquote(parts.path)
        authorized = authorization == f"Bearer {ACCESS_TOKEN}"
        with self._lock:
            self.seen.append(Seen(method, path, query, authorized))
        if not authorized:
            return (
                401,
                {"WWW-Authenticate": CHALLENGE},
                _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."),
            )
        if not query.get("api-version"):
            return 400, {}, _error("BadParameter", "The request URI contains an invalid api-version or is missing one.")
        held = self._held
        if held is not None:
            self.arrived.set()
            held.wait(10)
        if self._failure is not None:
            status, retry_after = self._failure
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            if status == 429:
                return (
                    status,
                    headers,
                    _error("Throttled", "Request was not processed because too many requests were received."),
                )
            return status, headers, _error("InternalServerError", "The service encountered an internal error.")
        segments = [s for s in path.split("/") if s]
        if method != "GET" or len(segments) not in (2, 3) or segments[0] != "secrets":
            return 400, {}, _error("BadParameter", "The stand-in serves GET /secrets/{name}[/{version}] only.")
        name = segments[1]
        with self._lock:
            versions = list(self._secrets.get(name.lower(), []))
        if len(segments) == 3:
            versions = [v for v in versions if v[0] == segments[2]]
        if not versions:
            message = (
                f"A secret with (name/id) {'/'.join(segments[1:])} was not found in this key vault. If you recently "
                "deleted this secret you may be able to recover it using the correct recovery command. For help "
                "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            )
            return 404, {}, _error("SecretNotFound", message)
        version, value = versions[-1]
        stamp = int(datetime.now(UTC).timestamp())
        return (
            200,
            {},
            {
                "value": value,
                "id": f"https://127.0.0.1:{self.port}/secrets/{name}/{version}",
                "attributes": {
                    "enabled": True,
                    "created": stamp,
                    "updated": stamp,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": 90,
                },
                "tags": {},
            },
        )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler(standin: KeyVaultStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection, so stop() really refuses the next one

        def do_GET(self) -> None:
            status, headers, body = standin.answer("GET", self.path, self.headers.get("Authorization"))
            payload = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
