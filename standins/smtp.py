"""A real SMTP server for tests: `aiosmtpd` on 127.0.0.1, on a free port, in a thread.

    with SmtpStandIn(username="bridge", password="pw", tls="starttls", certificate=cert) as server:
        ...send to server.host, server.port...
        [received] = server.wait_for(1)
        received.message["Subject"], received.mail_from, received.rcpt_tos

What it can do:
- AUTH LOGIN and PLAIN against one user name and password (`password` can be changed while it runs,
  as a rotation would); without TLS when `tls` is None (`auth_require_tls=False`, the plain-text test
  mode). `logins` records every attempt as (user name, accepted).
- `tls="starttls"` (STARTTLS offered and required before MAIL) or `tls="ssl"` (TLS from the first byte),
  with a self-signed certificate for 127.0.0.1 and localhost (`make_certificate` of
  standins/keyvault.py); `client_context()` is an `ssl.SSLContext` that trusts it.
- Failures: `refuse_next(n, 451)` answers the next n messages' DATA with 451 (transient) or 550
  (permanent); `refuse_recipient(address, 550)` refuses that recipient at RCPT. `refused` lists both.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from standins.keyvault import make_certificate

__all__ = ["Received", "SmtpStandIn", "make_certificate"]

REPLIES = {
    421: "421 4.3.2 Service shutting down, try again later",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary failure, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.7.1 Message refused by policy",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Transaction failed",
}


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    message: EmailMessage
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    authenticated_as: str | None
    tls: bool


class _FreePortController(Controller):
    """aiosmtpd's `Controller` on port 0: the OS picks a free port, which `port` then holds. (The stock
    controller connects to `port` once started, which for 0 would fail.)"""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpStandIn:
    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: Literal["starttls", "ssl"] | None = None,
        certificate: tuple[Path, Path] | None = None,
        mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
    ) -> None:
        """`certificate`: (certificate, key) files; made in a temporary directory when TLS is asked for
        and none is given."""
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host = "127.0.0.1"
        self.port = 0
        self.username = username
        self.password = password
        """The password the server accepts; assign to rotate it."""
        self.tls = tls
        self._certificate = certificate
        self._mechanisms = mechanisms
        self._lock = threading.Condition()
        self._refusals: list[int] = []
        self._refused_recipients: dict[str, tuple[int, int | None]] = {}
        self.received: list[Received] = []
        self.logins: list[tuple[str, bool]] = []
        self.refused: list[tuple[str, int]] = []
        """What the server refused: (what, code), `what` being "DATA" or a recipient."""
        self._controller: _FreePortController | None = None
        self._tmp: Any = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> SmtpStandIn:
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            if self._certificate is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="smtp-standin-")
                self._certificate = make_certificate(Path(self._tmp.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._certificate)
            if self.tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if self.username is not None:
            all_mechanisms = {"LOGIN", "PLAIN"}
            kwargs.update(
                authenticator=self._authenticate,
                # aiosmtpd counts only STARTTLS as TLS; with tls="ssl" the connection is encrypted throughout.
                auth_require_tls=self.tls == "starttls",
                auth_exclude_mechanism=sorted(all_mechanisms - set(self._mechanisms)),
            )
        controller = _FreePortController(
            _Handler(self),
            hostname=self.host,
            port=0,
            server_hostname="smtp-standin.localhost",
            ready_timeout=10,
            **kwargs,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- for clients -------------------------------------------------------------------------------

    @property
    def certificate(self) -> Path:
        if self._certificate is None:
            raise RuntimeError("this stand-in has no certificate (tls=None)")
        return self._certificate[0]

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the stand-in's self-signed certificate (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.certificate))

    # --- failures ----------------------------------------------------------------------------------

    def refuse_next(self, count: int, code: int = 451) -> None:
        """Answer the DATA of the next `count` messages with `code` (451 transient, 550 permanent, ...)."""
        with self._lock:
            self._refusals.extend([code] * count)

    def refuse_recipient(self, address: str, code: int = 550, times: int | None = None) -> None:
        """Refuse `address` at RCPT with `code` (550 permanent, 450 transient, ...): `times` times, or
        until `accept_recipient` when None."""
        with self._lock:
            self._refused_recipients[address.lower()] = (code, times)

    def accept_recipient(self, address: str) -> None:
        with self._lock:
            self._refused_recipients.pop(address.lower(), None)

    # --- what arrived ------------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first `count` messages received, waiting up to `timeout` seconds for them to arrive.
        Raises `TimeoutError` when fewer arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} messages arrived within {timeout} s")
                self._lock.wait(left)
            return list(self.received[:count])

    # --- the server side (called in aiosmtpd's thread) ---------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        accepted = login == self.username and auth_data.password.decode("utf-8", "replace") == self.password
        with self._lock:
            self.logins.append((login, accepted))
        return AuthResult(success=accepted, handled=False, auth_data=login if accepted else None)

    def _rcpt(self, address: str) -> str | None:
        with self._lock:
            refusal = self._refused_recipients.get(address.lower())
            if refusal is None:
                return None
            code, times = refusal
            if times is not None:
                if times <= 1:
                    del self._refused_recipients[address.lower()]
                else:
                    self._refused_recipients[address.lower()] = (code, times - 1)
            self.refused.append((address, code))
        return f"{code} {'4.2.1' if code < 500 else '5.1.1'} <{address}>: Recipient address rejected"

    def _data(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self._refusals:
                code = self._refusals.pop(0)
                self.refused.append(("DATA", code))
                return REPLIES.get(code, f"{code} Refused")
        raw = envelope.original_content or b""
        # As a mail store would: SMTP's CRLF line ends become the platform's.
        message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        received = Received(
            message=message,
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            authenticated_as=session.auth_data if session.authenticated else None,
            tls=session.ssl is not None or _over_tls(server),
        )
        with self._lock:
            self.received.append(received)
            self._lock.notify_all()
        return "250 2.0.0 Message accepted for delivery"


def _over_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Handler:
    def __init__(self, standin: SmtpStandIn) -> None:
        self._standin = standin

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._standin._rcpt(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self._standin._data(server, session, envelope)
