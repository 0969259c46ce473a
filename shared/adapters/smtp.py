"""The one adapter for sending e-mail: SMTP through `smtplib`.

Settings (app settings; e-mail is off while `SMTP_HOST` is unset):

- `SMTP_HOST`: the server's host name or IP address (no port, no scheme).
- `SMTP_PORT`: default 587 for `starttls`, 465 for `ssl`, 25 for `none`.
- `SMTP_SECURITY`: `starttls` (default: plain connect, then STARTTLS, refused if the server does not
  offer it), `ssl` (TLS from the first byte, "SMTPS") or `none` (plain text; with a user name only
  towards a loopback host, so that a password never crosses a network unencrypted).
- `SMTP_USERNAME`: log in as this user (the password is the secret `SMTP_PASSWORD`, `shared.platform.secrets`);
  unset: send without logging in.
- `SMTP_FROM`: the sender, `billing@example.com` or `Invoice Bridge <billing@example.com>`; required.

The certificate is checked against the system's trust store (`ssl.create_default_context()`).

`SmtpMailer.send` retries once when the server answers 4xx or the connection fails, and once (with
`password(True)`, a fresh read of the secret) when the login is refused with 535. Everything else is a
`MailError` whose text says which server, which recipients and what the server answered; it never
contains the password, and neither does anything this module logs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Literal, Protocol, cast, get_args

from shared.adapters.mail_message import build_message, parse_address
from shared.config import ConfigError
from shared.platform.secrets import SecretValue

log = logging.getLogger("invoice_bridge.smtp")

Security = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: Mapping[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT_SECONDS = 30.0
RETRY_DELAY_SECONDS = 1.0
AUTH_REFUSED = 535

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\.?")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    sender: str = field(kw_only=True)
    """`From` of every message that has none, and the envelope sender (its address) of every message."""
    security: Security = "starttls"
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.security not in get_args(Security):
            raise ValueError("security must be starttls, ssl or none")
        if not 0 < self.port < 65536:
            raise ValueError("port must be between 1 and 65535")
        if not self.timeout > 0:
            raise ValueError("timeout must be positive")
        parse_address(self.sender, local_domain=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings | None:
        """The settings, or None when `SMTP_HOST` is not set (e-mail is off). Raises `ConfigError`
        naming the setting, never its value."""
        host = (env.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        if not _valid_host(host):
            raise ConfigError("setting SMTP_HOST must be a host name or IP address, without scheme or port")

        security = (env.get("SMTP_SECURITY") or "starttls").strip().lower()
        if security not in get_args(Security):
            raise ConfigError("setting SMTP_SECURITY must be one of starttls, ssl, none")

        raw_port = (env.get("SMTP_PORT") or "").strip()
        port = DEFAULT_PORTS[security]
        if raw_port:
            if not (raw_port.isascii() and raw_port.isdigit() and len(raw_port) <= 5) or not 0 < int(raw_port) < 65536:
                raise ConfigError("setting SMTP_PORT must be a whole number between 1 and 65535")
            port = int(raw_port)

        username = (env.get("SMTP_USERNAME") or "").strip() or None
        if username is not None and not username.isprintable():
            raise ConfigError("setting SMTP_USERNAME must not contain line breaks or control characters")
        if username is not None and security == "none" and not _is_loopback(host):
            raise ConfigError(
                "setting SMTP_SECURITY=none would send the SMTP password unencrypted; "
                "use starttls or ssl, or leave SMTP_USERNAME empty"
            )

        sender = (env.get("SMTP_FROM") or "").strip()
        if not sender:
            raise ConfigError("setting SMTP_FROM is required when SMTP_HOST is set")
        try:
            parse_address(sender, local_domain=True)
        except ValueError:
            raise ConfigError(
                "setting SMTP_FROM must be one e-mail address, such as Invoice Bridge <billing@example.com>"
            ) from None

        return cls(host=host, port=port, username=username, sender=sender, security=cast(Security, security))

    @property
    def server(self) -> str:
        """`host:port`, for messages."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(host))
    return True


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MailError(Exception):
    """A message could not be sent. The text names the server, the recipients and the server's answer;
    never the password. `status` is the server's reply code (None for a connection or TLS failure),
    `recipients` the recipients it was not delivered to (the others, if any, got it), `transient`
    whether a later try may succeed."""

    def __init__(
        self, text: str, *, status: int | None = None, recipients: Sequence[str] = (), transient: bool = False
    ) -> None:
        super().__init__(text)
        self.status = status
        self.recipients = tuple(recipients)
        self.transient = transient


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


PasswordSource = Callable[[bool], SecretValue | None]
"""`password(stale)`: the SMTP password; `stale=True` after the server refused the last one, to force
a fresh read (e.g. `Secrets.smtp_password(stale=<the value just refused>)`). None: not configured."""


class StaleAwareRead(Protocol):
    def __call__(self, *, stale: SecretValue | None = None) -> SecretValue: ...


def password_reader(read: StaleAwareRead) -> PasswordSource:
    """Adapts a reader such as `Secrets.smtp_password` to `password(stale)`: `stale=True` passes back
    the value it returned last, so the store fetches a newer one (once, shared with other callers).

        SmtpMailer(settings, password_reader(secrets.smtp_password))
    """
    last: list[SecretValue] = []

    def password(stale: bool) -> SecretValue:
        value = read(stale=last[0] if stale and last else None)
        last[:] = [value]
        return value

    return password


class _Retry(Exception):
    """One attempt failed in a way worth one more try."""

    def __init__(self, error: MailError) -> None:
        super().__init__(str(error))
        self.error = error


class SmtpMailer:
    """Sends through one SMTP server, one connection per message. Thread-safe (it keeps no connection)."""

    def __init__(
        self,
        settings: SmtpSettings,
        password: PasswordSource,
        *,
        ssl_context: ssl.SSLContext | None = None,
        retry_delay: float = RETRY_DELAY_SECONDS,
    ) -> None:
        self.settings = settings
        self._password = password
        self._ssl_context = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._retry_delay = retry_delay
        self._envelope_sender = parse_address(settings.sender, local_domain=True).addr_spec

    def send(self, message: EmailMessage) -> None:
        """Sends `message` to its To, Cc and Bcc recipients (Bcc is not transmitted). Adds, when missing,
        `From` (the configured sender), `Date` and `Message-ID`, in place, so the caller can log the
        Message-ID; a retry sends the same Message-ID. Raises `MailError`."""
        if message["From"] is None:
            message["From"] = parse_address(self.settings.sender, local_domain=True)
        if message["Date"] is None:
            message["Date"] = format_datetime(datetime.now(UTC))
        if message["Message-ID"] is None:
            domain = self._envelope_sender.rpartition("@")[2]
            message["Message-ID"] = make_msgid(domain=domain if domain.isascii() else "invoice-bridge.invalid")
        pending = _recipients_of(message)
        if not pending:
            raise ValueError("the message has no recipients (To, Cc or Bcc)")

        secret = self._read_password(stale=False)
        refreshed = retried = False
        failed: dict[str, tuple[int, str]] = {}  # refused for good, or again after the retry
        while True:
            try:
                refused = self._attempt(message, pending, secret)
            except smtplib.SMTPAuthenticationError as error:
                if error.smtp_code == AUTH_REFUSED and not refreshed:
                    refreshed = True
                    log.warning(
                        "SMTP server %s refused the login of user %r (535); reading the password again",
                        self.settings.server,
                        self.settings.username,
                    )
                    secret = self._read_password(stale=True)
                    continue
                raise MailError(
                    f"SMTP server {self.settings.server} refused the login of user {self.settings.username!r}"
                    f" ({error.smtp_code} {_text(error.smtp_error, secret)})",
                    status=error.smtp_code,
                    recipients=[*failed, *pending],
                ) from None
            except _Retry as retry:
                if not retried:
                    retried = True
                    log.warning("%s; trying once more", retry.error)
                    time.sleep(self._retry_delay)
                    continue
                if not failed:
                    raise retry.error from None
                raise MailError(
                    f"{retry.error}; before that it refused {_list(failed)}",
                    status=retry.error.status,
                    recipients=[*failed, *pending],
                    transient=False,
                ) from None
            failed.update((recipient, (code, _text(reply, secret))) for recipient, (code, reply) in refused.items())
            deferred = {r: v for r, v in failed.items() if 400 <= v[0] < 500}
            if not deferred or retried:
                break
            retried = True
            pending = list(deferred)
            for recipient in deferred:
                del failed[recipient]
            log.warning("SMTP server %s deferred %s; trying once more", self.settings.server, _list(deferred))
            time.sleep(self._retry_delay)
        if failed:
            codes = {code for code, _ in failed.values()}
            raise MailError(
                f"SMTP server {self.settings.server} refused {_list(failed)}",
                status=codes.pop() if len(codes) == 1 else None,
                recipients=list(failed),
                transient=all(400 <= code < 500 for code, _ in failed.values()),
            )
        log.info("Sent mail %s via %s", message["Message-ID"], self.settings.server)

    def _read_password(self, *, stale: bool) -> SecretValue | None:
        if self.settings.username is None:
            return None
        secret = self._password(stale)
        if secret is None:
            raise MailError(
                f"SMTP_USERNAME is set but no SMTP password is configured (SMTP_PASSWORD) for {self.settings.server}"
            )
        return secret

    def _attempt(
        self, message: EmailMessage, recipients: Sequence[str], secret: SecretValue | None
    ) -> dict[str, tuple[int, bytes]]:
        """One connection: connect, STARTTLS, login, send. Returns the refused recipients (some were
        accepted). Raises `SMTPAuthenticationError` as it is, `_Retry` or `MailError`."""
        settings = self.settings
        where = f"SMTP server {settings.server}"
        try:
            client: smtplib.SMTP
            if settings.security == "ssl":
                client = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout, context=self._ssl_context
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            try:
                client.ehlo()
                if settings.security == "starttls":
                    if not client.has_extn("starttls"):
                        raise MailError(f"{where} does not offer STARTTLS (SMTP_SECURITY=starttls)")
                    client.starttls(context=self._ssl_context)
                    client.ehlo()
                if settings.username is not None and secret is not None:
                    client.login(settings.username, secret.reveal())
                refused = client.send_message(message, from_addr=self._envelope_sender, to_addrs=list(recipients))
                _quit(client)
                return refused
            finally:
                client.close()
        except (MailError, smtplib.SMTPAuthenticationError):
            raise
        except smtplib.SMTPRecipientsRefused as error:  # every recipient refused
            return error.recipients
        except smtplib.SMTPResponseException as error:
            code, reply = error.smtp_code, _text(error.smtp_error, secret)
            mail_error = MailError(
                f"{where} refused the message to {', '.join(recipients)}: {code} {reply}",
                status=code,
                recipients=recipients,
                transient=400 <= code < 500,
            )
            if mail_error.transient:
                raise _Retry(mail_error) from None
            raise mail_error from None
        except ssl.SSLCertVerificationError as error:
            raise MailError(
                f"{where}: its TLS certificate is not trusted ({error.verify_message})", recipients=recipients
            ) from None
        except (smtplib.SMTPServerDisconnected, ssl.SSLEOFError, ConnectionError, TimeoutError) as error:
            raise _Retry(
                MailError(
                    f"{where}: connection failed ({_describe(error, secret)})", recipients=recipients, transient=True
                )
            ) from None
        except ssl.SSLError as error:
            raise MailError(f"{where}: TLS failed ({_describe(error, secret)})", recipients=recipients) from None
        except smtplib.SMTPException as error:  # no AUTH offered, no suitable mechanism, SMTPUTF8 needed, ...
            raise MailError(f"{where}: {_describe(error, secret)}", recipients=recipients) from None
        except OSError as error:  # DNS failure, unreachable network, ...: worth one more try
            raise _Retry(
                MailError(
                    f"{where}: could not send ({_describe(error, secret)})", recipients=recipients, transient=True
                )
            ) from None


def _list(refusals: Mapping[str, tuple[int, str]]) -> str:
    return "; ".join(f"{recipient} ({code} {reply})" for recipient, (code, reply) in refusals.items())


def _quit(client: smtplib.SMTP) -> None:
    """QUIT after the message was accepted: a failure here must not make the caller send it again."""
    with contextlib.suppress(OSError):  # smtplib.SMTPException is an OSError
        client.quit()


def _text(reply: bytes | str, secret: SecretValue | None) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    if secret is not None:
        text = text.replace(secret.reveal(), "***")
    return text


def _describe(error: BaseException, secret: SecretValue | None) -> str:
    text = _text(str(error), secret)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _recipients_of(message: EmailMessage) -> list[str]:
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    seen: set[str] = set()
    recipients: list[str] = []
    for _, addr in getaddresses(values):
        if addr and addr.lower() not in seen:
            seen.add(addr.lower())
            recipients.append(addr)
    return recipients


__all__ = ["MailError", "Mailer", "SmtpMailer", "SmtpSettings", "build_message", "parse_address", "password_reader"]
