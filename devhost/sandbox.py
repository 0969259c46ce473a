"""`python -m devhost --sandbox`: local stand-ins for what the app reaches outside Azure, so that the
month-end flow (invoicing run, e-conomic export, report e-mail) runs on this machine.

- e-conomic: the stand-in of the export tests (`standins/economic/`) on 127.0.0.1:7072, with one
  agreement (tenant `demo`, grant token `sandbox-grant-demo`, app secret token `sandbox-app-secret`)
  seeded with `Agreement.seed_defaults()`. It is not e-conomic: everything is kept in memory and is gone
  when the host stops.
- SMTP: aiosmtpd on 127.0.0.1:1025, no TLS, no login; every message is kept as it arrived, one `.eml`
  file in `.mail/` under the script root (`SANDBOX_MAIL_DIR`), and is never delivered.

`local.settings.example.json` points the app at both. The ports are fixed so that those settings stay
valid; `SANDBOX_ECONOMIC_PORT` and `SANDBOX_SMTP_PORT` move them (the tests do, to run beside `make run`).
Both start before the app is imported and stop when the host stops.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import errno
import itertools
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from devhost.processes import REPO_ROOT

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session

    from standins.economic import EconomicStandin

log = logging.getLogger("devhost.sandbox")

LOCALHOST = "127.0.0.1"
ECONOMIC_PORT = 7072
SMTP_PORT = 1025
TENANT = "demo"
GRANT_TOKEN = "sandbox-grant-demo"  # noqa: S105 - the sandbox's made-up token, not a secret
APP_SECRET_TOKEN = "sandbox-app-secret"  # noqa: S105 - the sandbox's made-up token, not a secret
MAIL_DIR_SETTING = "SANDBOX_MAIL_DIR"
ECONOMIC_PORT_SETTING = "SANDBOX_ECONOMIC_PORT"
SMTP_PORT_SETTING = "SANDBOX_SMTP_PORT"


class SandboxError(RuntimeError):
    """The sandbox cannot start (a port is taken, the stand-in's schemas are missing...)."""


@dataclass
class Sandbox:
    economic: EconomicStandin
    smtp: Controller
    mail_dir: Path
    smtp_port: int

    @property
    def economic_url(self) -> str:
        return self.economic.base_url

    def expected_settings(self) -> dict[str, str]:
        """The app settings that point the app at this sandbox (as in local.settings.example.json)."""
        from shared.platform.secrets import economic_grant_token_ref

        return {
            "ECONOMIC_BASE_URL": self.economic_url,
            "ECONOMIC_APP_SECRET_TOKEN": APP_SECRET_TOKEN,
            economic_grant_token_ref(TENANT).setting_name: GRANT_TOKEN,
            "SMTP_HOST": LOCALHOST,
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_SECURITY": "none",
        }

    def banner_lines(self, environ: Mapping[str, str]) -> list[str]:
        mail_dir = _shown(self.mail_dir)
        lines = [
            "Sandbox (--sandbox): stand-ins for the month-end flow, nothing leaves this machine:",
            f"    e-conomic stand-in: {self.economic_url}  (NOT e-conomic: a local imitation that keeps",
            "        everything in memory; it is gone when the host stops)",
            f"        agreement for tenant '{TENANT}': grant token {GRANT_TOKEN}, app secret token {APP_SECRET_TOKEN};",
            "        customers 1 Acme A/S, 2 Globex GmbH, 3 Initech Ltd; products 1, 2, KM; layouts 19, 21",
            f"        what it holds: curl -s {self.economic_url}/invoices/drafts"
            f" -H 'X-AppSecretToken: {APP_SECRET_TOKEN}' -H 'X-AgreementGrantToken: {GRANT_TOKEN}'",
            "        book draft invoice N as an accountant would: POST /invoices/booked"
            ' {"draftInvoice":{"draftInvoiceNumber":N}} (docs/month-end.md: Month end, locally)',
            f"    SMTP sink: {LOCALHOST}:{self.smtp_port} (no TLS, no login); mails are kept, never delivered,"
            f" one file each in {mail_dir}/",
            f"        read them: ls {mail_dir}/ && cat {mail_dir}/*.eml",
        ]
        expected = self.expected_settings().items()
        wrong = sorted(name for name, value in expected if (environ.get(name) or "").strip().rstrip("/") != value)
        if wrong:
            lines += [
                "    The app is NOT pointed at the sandbox; these settings are missing or point elsewhere:",
                f"        {', '.join(wrong)}",
                "        (copy them from local.settings.example.json into local.settings.json and restart)",
            ]
        else:
            lines.append("    The app's settings (ECONOMIC_*, SMTP_*) point at the sandbox.")
        return lines

    def stop(self) -> None:
        try:
            self.smtp.stop()
        finally:
            self.economic.stop()


def start_sandbox(environ: Mapping[str, str], script_root: Path) -> Sandbox:
    """Starts the e-conomic stand-in and the SMTP sink; the caller stops them (`Sandbox.stop`)."""
    economic_port = _port(environ, ECONOMIC_PORT_SETTING, ECONOMIC_PORT)
    smtp_port = _port(environ, SMTP_PORT_SETTING, SMTP_PORT)
    if economic_port == smtp_port:
        raise SandboxError(f"{ECONOMIC_PORT_SETTING} and {SMTP_PORT_SETTING} must differ")
    mail_dir = Path(environ.get(MAIL_DIR_SETTING) or ".mail")
    mail_dir = (mail_dir if mail_dir.is_absolute() else script_root / mail_dir).resolve()

    economic = _start_economic(economic_port)
    try:
        smtp = _start_smtp(smtp_port, mail_dir)
    except BaseException:
        economic.stop()
        raise
    log.info(
        "Sandbox: e-conomic stand-in on %s, SMTP sink on %s:%d (mail in %s)",
        economic.base_url,
        LOCALHOST,
        smtp_port,
        mail_dir,
    )
    return Sandbox(economic=economic, smtp=smtp, mail_dir=mail_dir, smtp_port=smtp_port)


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:
        raise SandboxError(f"setting {name} must be a port number between 1 and 65535")
    return int(raw)


def _taken(port: int, what: str, setting: str, error: OSError) -> SandboxError:
    problem = "is already in use (another `make run`?)" if error.errno == errno.EADDRINUSE else f"({error.strerror})"
    return SandboxError(
        f"cannot start the sandbox's {what}: 127.0.0.1:{port} {problem}. "
        f"Stop what holds it, or move the {what} with {setting} and point the app's settings there."
    )


def economic_schema_dir() -> Path:
    """e-conomic's published JSON schemas, in the reference material beside the repository
    (`../shared/reference/economic-schemas`, as CI checks it out; a git worktree under <root>/wt/<name>
    has it two levels up). SandboxError when there is none."""
    for base in (REPO_ROOT.parent, *REPO_ROOT.parents):
        candidate = base / "shared" / "reference" / "economic-schemas"
        if candidate.is_dir():
            return candidate
    raise SandboxError(
        "the e-conomic stand-in cannot find e-conomic's schemas: "
        f"no shared/reference/economic-schemas beside {REPO_ROOT} or above it"
    )


def _start_economic(port: int) -> EconomicStandin:
    # The stand-in (standins/economic/) is the one the export tests are built on; the sandbox serves the
    # very same one, so what a developer tries by hand behaves as the tests expect. It needs `jsonschema`
    # (requirements-dev.txt) and e-conomic's schemas from ../shared/reference/economic-schemas.
    try:
        from standins.economic import EconomicStandin
    except ImportError as exc:
        raise SandboxError(f"the e-conomic stand-in needs the dev dependencies (make deps): {exc}") from exc
    try:
        standin = EconomicStandin(app_secret_token=APP_SECRET_TOKEN, port=port, schema_dir=economic_schema_dir())
    except OSError as exc:
        raise _taken(port, "e-conomic stand-in", ECONOMIC_PORT_SETTING, exc) from exc
    if not (standin.schema_dir / "invoices.drafts.post.schema.json").is_file():
        standin.stop()
        raise SandboxError(f"the e-conomic stand-in needs e-conomic's schemas in {standin.schema_dir}; it has none")
    agreement = standin.add_agreement(GRANT_TOKEN, tenant=TENANT).seed_defaults()
    # E-mail addresses for the customer import to take (Initech has none: the import says so).
    agreement.customers[1]["email"] = "ap@acme.example"
    agreement.customers[2]["email"] = "invoices@globex.example; finance@globex.example"
    return standin.start()


def _start_smtp(port: int, mail_dir: Path) -> Controller:
    from aiosmtpd.controller import Controller

    # aiosmtpd's controller waits 5 s before it reports a port it could not bind; find out at once.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOCALHOST, port))
        except OSError as exc:
            raise _taken(port, "SMTP sink", SMTP_PORT_SETTING, exc) from exc
    mail_dir.mkdir(parents=True, exist_ok=True)
    # aiosmtpd logs every SMTP command at INFO on "mail.log"; the sandbox logs one line per message.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # server_hostname: else aiosmtpd asks DNS for this machine's name (socket.getfqdn), slow on some.
    controller = Controller(MailFiles(mail_dir), hostname=LOCALHOST, port=port, server_hostname="localhost")
    try:
        controller.start()
    except OSError as exc:
        raise _taken(port, "SMTP sink", SMTP_PORT_SETTING, exc) from exc
    return controller


class MailFiles:
    """aiosmtpd handler: every message one `<UTC time>-<n>.eml` file in `directory`, with the envelope's
    sender and recipients on top (`X-MailFrom`, `X-RcptTo`, as aiosmtpd's own handlers add them) and its
    text parts turned into plain UTF-8 (8bit; quoted-printable or base64 in transit), so that `cat`
    shows them as written. Written to a temporary name first: a file that is there is complete."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = _readable(envelope.original_content or b"")
        head = f"X-MailFrom: {envelope.mail_from}\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\n"
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{next(self._numbers)}.eml"
        path = self.directory / name
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(head.encode("utf-8") + message.as_bytes())
        os.replace(partial, path)
        log.info("Sandbox mail to %s: %r, in %s", ", ".join(envelope.rcpt_tos), str(message["Subject"]), path)
        return "250 Message accepted for delivery"


def _readable(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, _class=EmailMessage, policy=email.policy.default)
    for part in message.walk():
        encoding = (part["Content-Transfer-Encoding"] or "").strip().lower()
        if (
            part.get_content_maintype() == "text"
            and not part.is_attachment()
            and encoding in ("quoted-printable", "base64")
        ):
            with contextlib.suppress(Exception):  # a part it cannot decode stays as it came
                part.set_content(part.get_content(), subtype=part.get_content_subtype(), cte="8bit")
    return message


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter to type), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
