"""E-mail: the real `smtplib` client in shared/adapters/smtp.py against a real SMTP server (aiosmtpd,
standins/smtp.py) on 127.0.0.1: delivery, login and password rotation, STARTTLS and SMTPS with a
self-signed certificate, transient and permanent refusals."""

from __future__ import annotations

import logging
import ssl
import traceback
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from shared.adapters.smtp import (
    Mailer,
    MailError,
    Security,
    SmtpMailer,
    SmtpSettings,
    build_message,
    password_reader,
)
from shared.config import ConfigError
from shared.platform.secrets import EnvironmentSource, Secrets, SecretStore, SecretValue
from standins.smtp import SmtpStandIn, make_certificate

SENDER = "Invoice Bridge <billing@bridge.example>"
USER = "bridge"
PASSWORD = "s3cret-Pa55word-do-not-log"
ROTATED = "r0tated-Pa55word-do-not-log"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("smtp"))


@pytest.fixture
def server() -> Iterator[SmtpStandIn]:
    with SmtpStandIn() as standin:
        yield standin


class Passwords:
    """`password(stale)` for the mailer: `values[0]` first, `values[1]` when told the last one is stale."""

    def __init__(self, *values: str) -> None:
        self.values = [SecretValue(v) for v in values]
        self.calls: list[bool] = []

    def __call__(self, stale: bool) -> SecretValue:
        self.calls.append(stale)
        return self.values[min(len(self.calls) - 1, len(self.values) - 1)] if stale else self.values[0]


def mailer_for(
    standin: SmtpStandIn,
    *,
    security: Security = "none",
    username: str | None = None,
    password: Callable[[bool], SecretValue | None] = lambda stale: None,
    ssl_context: ssl.SSLContext | None = None,
) -> SmtpMailer:
    settings = SmtpSettings(
        standin.host,
        standin.port,
        username,
        sender=SENDER,
        security=security,
        timeout=5,
    )
    return SmtpMailer(settings, password, ssl_context=ssl_context, retry_delay=0)


def note(to: list[str] | None = None, subject: str = "Invoice 2024-17") -> EmailMessage:
    return build_message(sender=None, to=to or ["anna@customer.example"], subject=subject, text="See attached.\n")


# --- delivery ---------------------------------------------------------------------------------------


def test_a_message_arrives_with_its_recipients_subject_and_utf8_body(server: SmtpStandIn) -> None:
    mailer: Mailer = mailer_for(server)
    message = build_message(
        sender=None,
        to=["Łukasz Nowak <lukasz@customer.example>", "anna@customer.example", "LUKASZ@Customer.Example"],
        subject="Rechnung für Łukasz: 12,50 €",
        text="Hallo Łukasz,\n\nder Betrag ist 12,50 €.\n",
        html="<p>Hallo Łukasz, der Betrag ist <b>12,50 €</b>.</p>",
        attachments=[("Rechnung-Łukasz.pdf", "application/pdf", b"%PDF-1.4 fake")],
    )

    mailer.send(message)

    [received] = server.wait_for(1)
    assert received.rcpt_tos == ("lukasz@customer.example", "anna@customer.example")
    assert received.mail_from == "billing@bridge.example"
    got = received.message
    assert got["Subject"] == "Rechnung für Łukasz: 12,50 €"
    assert got["To"] == "Łukasz Nowak <lukasz@customer.example>, anna@customer.example"
    assert got["From"] == SENDER
    assert got["Message-ID"] == message["Message-ID"]
    assert got["Message-ID"].endswith("@bridge.example>")
    assert parsedate_to_datetime(got["Date"]).tzinfo is not None
    plain, html = got.get_body(("plain",)), got.get_body(("html",))
    assert plain is not None
    assert plain.get_content() == "Hallo Łukasz,\n\nder Betrag ist 12,50 €.\n"
    assert html is not None
    assert "<b>12,50 €</b>" in html.get_content()
    [attachment] = got.iter_attachments()
    assert attachment.get_filename() == "Rechnung-Łukasz.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 fake"
    assert received.raw.isascii()  # headers and bodies encoded for any server, 8BITMIME or not


def test_bcc_recipients_get_the_message_without_seeing_each_other(server: SmtpStandIn) -> None:
    message = note()
    message["Bcc"] = "archive@bridge.example"
    message["From"] = "Someone Else <someone@bridge.example>"

    mailer_for(server).send(message)

    [received] = server.wait_for(1)
    assert received.rcpt_tos == ("anna@customer.example", "archive@bridge.example")
    assert received.message["Bcc"] is None
    assert b"archive@" not in received.raw
    assert received.message["From"] == "Someone Else <someone@bridge.example>"  # kept; envelope is ours
    assert received.mail_from == "billing@bridge.example"


# --- login ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_login_with_the_right_password(mechanism: str) -> None:
    passwords = Passwords(PASSWORD)
    with SmtpStandIn(username=USER, password=PASSWORD, mechanisms=(mechanism,)) as server:
        mailer_for(server, username=USER, password=passwords).send(note())
        [received] = server.wait_for(1)
    assert received.authenticated_as == USER
    assert passwords.calls == [False]


def test_no_password_is_read_without_a_user_name(server: SmtpStandIn) -> None:
    passwords = Passwords(PASSWORD)
    mailer_for(server, password=passwords).send(note())
    server.wait_for(1)
    assert passwords.calls == []


def test_a_wrong_password_is_a_mail_error_that_never_shows_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    passwords = Passwords("wrong-" + PASSWORD, "still-wrong-" + PASSWORD)
    with SmtpStandIn(username=USER, password=PASSWORD) as server:
        with pytest.raises(MailError) as caught:
            mailer_for(server, username=USER, password=passwords).send(note())
        assert server.received == []
        assert server.logins
        assert not any(accepted for _, accepted in server.logins)

    error = caught.value
    assert error.status == 535
    assert f"127.0.0.1:{server.port}" in str(error)
    assert USER in str(error)
    assert "535" in str(error)
    assert passwords.calls == [False, True]  # re-read once, then gave up
    shown = "".join(traceback.format_exception(error)) + repr(error) + caplog.text
    for value in passwords.values:
        assert value.reveal() not in shown
    assert "refused the login" in caplog.text  # the re-read is logged, without the password


def test_a_rotated_password_is_picked_up_through_password_true() -> None:
    passwords = Passwords(PASSWORD, ROTATED)
    with SmtpStandIn(username=USER, password=PASSWORD) as server:
        mailer = mailer_for(server, username=USER, password=passwords)
        mailer.send(note(subject="before"))
        server.password = ROTATED  # the password is rotated at the mail provider
        mailer.send(note(subject="after"))
        received = server.wait_for(2)
    assert [r.message["Subject"] for r in received] == ["before", "after"]
    assert passwords.calls == [False, False, True]
    assert server.logins[-1] == (USER, True)


def test_a_rotated_password_is_read_again_from_the_secret_store() -> None:
    """The production wiring: `Secrets.smtp_password` behind its cache; the refused value is passed back
    as `stale=`, so the store fetches the new one although its cached copy is still young."""
    env = {"SMTP_PASSWORD": PASSWORD}
    secrets = Secrets(SecretStore(EnvironmentSource(env), ttl=3600, max_staleness=86400))
    with SmtpStandIn(username=USER, password=PASSWORD) as server:
        mailer = mailer_for(server, username=USER, password=password_reader(secrets.smtp_password))
        mailer.send(note(subject="before"))
        env["SMTP_PASSWORD"] = server.password = ROTATED
        mailer.send(note(subject="after"))
        assert [r.message["Subject"] for r in server.wait_for(2)] == ["before", "after"]


# --- TLS --------------------------------------------------------------------------------------------


def test_starttls_with_a_context_that_trusts_the_servers_certificate(certificate: tuple[Path, Path]) -> None:
    with SmtpStandIn(username=USER, password=PASSWORD, tls="starttls", certificate=certificate) as server:
        mailer = mailer_for(
            server,
            security="starttls",
            username=USER,
            password=Passwords(PASSWORD),
            ssl_context=server.client_context(),
        )
        mailer.send(note())
        [received] = server.wait_for(1)
    assert received.tls
    assert received.authenticated_as == USER


def test_smtps_with_a_context_that_trusts_the_servers_certificate(certificate: tuple[Path, Path]) -> None:
    with SmtpStandIn(username=USER, password=PASSWORD, tls="ssl", certificate=certificate) as server:
        mailer = mailer_for(
            server, security="ssl", username=USER, password=Passwords(PASSWORD), ssl_context=server.client_context()
        )
        mailer.send(note())
        [received] = server.wait_for(1)
    assert received.tls
    assert received.authenticated_as == USER


def test_an_untrusted_certificate_is_refused_before_the_password_is_sent(certificate: tuple[Path, Path]) -> None:
    with SmtpStandIn(username=USER, password=PASSWORD, tls="starttls", certificate=certificate) as server:
        mailer = mailer_for(server, security="starttls", username=USER, password=Passwords(PASSWORD))  # system CAs
        with pytest.raises(MailError, match="certificate is not trusted"):
            mailer.send(note())
        assert server.logins == []
        assert server.received == []


def test_starttls_is_required_when_configured(server: SmtpStandIn) -> None:
    passwords = Passwords(PASSWORD)
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        mailer_for(server, security="starttls", username=USER, password=passwords).send(note())
    assert server.received == []


# --- refusals and outages ---------------------------------------------------------------------------


def test_a_451_is_retried_once_and_delivered(server: SmtpStandIn, caplog: pytest.LogCaptureFixture) -> None:
    server.refuse_next(1, 451)
    message = note()
    mailer_for(server).send(message)
    [received] = server.wait_for(1)
    assert server.refused == [("DATA", 451)]
    assert received.message["Message-ID"] == message["Message-ID"]
    assert "451" in caplog.text
    assert "trying once more" in caplog.text


def test_a_451_twice_is_a_transient_mail_error(server: SmtpStandIn) -> None:
    server.refuse_next(2, 451)
    with pytest.raises(MailError) as caught:
        mailer_for(server).send(note())
    assert caught.value.status == 451
    assert caught.value.transient
    assert server.refused == [("DATA", 451), ("DATA", 451)]
    assert server.received == []


def test_a_550_is_a_mail_error_naming_the_recipient_and_status_without_a_retry(server: SmtpStandIn) -> None:
    server.refuse_next(1, 550)
    with pytest.raises(MailError) as caught:
        mailer_for(server).send(note(to=["anna@customer.example"]))
    assert "anna@customer.example" in str(caught.value)
    assert "550" in str(caught.value)
    assert caught.value.status == 550
    assert not caught.value.transient
    assert caught.value.recipients == ("anna@customer.example",)
    assert server.refused == [("DATA", 550)]
    assert server.received == []


def test_a_refused_recipient_is_named_and_the_others_still_get_the_message(server: SmtpStandIn) -> None:
    server.refuse_recipient("nobody@customer.example", 550)
    with pytest.raises(MailError) as caught:
        mailer_for(server).send(note(to=["anna@customer.example", "nobody@customer.example"]))
    assert caught.value.recipients == ("nobody@customer.example",)
    assert caught.value.status == 550
    assert "nobody@customer.example (550" in str(caught.value)
    [received] = server.wait_for(1)
    assert received.rcpt_tos == ("anna@customer.example",)


def test_a_deferred_recipient_is_retried_alone(server: SmtpStandIn) -> None:
    server.refuse_recipient("busy@customer.example", 450, times=1)
    message = note(to=["anna@customer.example", "busy@customer.example"])
    mailer_for(server).send(message)
    first, second = server.wait_for(2)
    assert first.rcpt_tos == ("anna@customer.example",)
    assert second.rcpt_tos == ("busy@customer.example",)
    assert first.message["Message-ID"] == second.message["Message-ID"] == message["Message-ID"]
    assert server.refused == [("busy@customer.example", 450)]


def test_an_unreachable_server_is_retried_once_then_a_transient_mail_error(caplog: pytest.LogCaptureFixture) -> None:
    with SmtpStandIn() as stopped:
        pass  # its port is free again
    with pytest.raises(MailError, match="connection failed") as caught:
        mailer_for(stopped).send(note())
    assert caught.value.transient
    assert caplog.text.count("trying once more") == 1


# --- building messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject": "Invoice\r\nBcc: victim@elsewhere.example"},
        {"subject": "Invoice\nX-Injected: 1"},
        {"to": ["anna@customer.example\r\nBcc: victim@elsewhere.example"]},
        {"to": ["anna@customer.example\nBcc: victim@elsewhere.example"]},
        {"sender": "billing@bridge.example\r\nBcc: victim@elsewhere.example"},
        {"attachments": [("a.pdf\r\nX-Injected: 1", "application/pdf", b"")]},
    ],
)
def test_header_injection_is_refused(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"sender": None, "to": ["anna@customer.example"], "subject": "s", "text": "t"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match="line break"):
        build_message(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "to", [[], ["not an address"], ["anna@customer.example, bob@customer.example"], ["anna@"], ["@customer.example"]]
)
def test_recipients_must_be_addresses_one_per_entry(to: list[str]) -> None:
    with pytest.raises(ValueError, match=r"address|recipient"):
        build_message(sender=None, to=to, subject="s", text="t")


def test_one_string_is_not_taken_for_a_list_of_recipients() -> None:
    with pytest.raises(TypeError):
        build_message(sender=None, to="anna@customer.example", subject="s", text="t")


# --- settings ---------------------------------------------------------------------------------------


def test_settings_are_none_while_smtp_host_is_unset() -> None:
    assert SmtpSettings.from_env({}) is None
    assert SmtpSettings.from_env({"SMTP_HOST": "  ", "SMTP_FROM": "billing@bridge.example"}) is None


def test_settings_from_env_with_defaults_by_security() -> None:
    base = {"SMTP_HOST": "smtp.office365.com", "SMTP_FROM": SENDER}
    assert SmtpSettings.from_env(base) == SmtpSettings("smtp.office365.com", 587, None, sender=SENDER)
    assert SmtpSettings.from_env({**base, "SMTP_SECURITY": "SSL"}) == SmtpSettings(
        "smtp.office365.com", 465, sender=SENDER, security="ssl"
    )
    full = {**base, "SMTP_PORT": "2525", "SMTP_USERNAME": "bridge@bridge.example", "SMTP_SECURITY": "starttls"}
    assert SmtpSettings.from_env(full) == SmtpSettings(
        "smtp.office365.com", 2525, "bridge@bridge.example", sender=SENDER
    )
    local = {"SMTP_HOST": "localhost", "SMTP_FROM": SENDER, "SMTP_SECURITY": "none", "SMTP_USERNAME": "dev"}
    assert SmtpSettings.from_env(local) == SmtpSettings("localhost", 25, "dev", sender=SENDER, security="none")


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"SMTP_FROM": ""}, "SMTP_FROM"),
        ({"SMTP_FROM": "billing-at-bridge.example-XYZZY"}, "SMTP_FROM"),
        ({"SMTP_FROM": "a@bridge.example-XYZZY, b@bridge.example"}, "SMTP_FROM"),
        ({"SMTP_FROM": "a@bridge.example-XYZZY\r\nBcc: c@elsewhere.example"}, "SMTP_FROM"),
        ({"SMTP_PORT": "XYZZY"}, "SMTP_PORT"),
        ({"SMTP_PORT": "0"}, "SMTP_PORT"),
        ({"SMTP_PORT": "65536"}, "SMTP_PORT"),
        ({"SMTP_PORT": "-25"}, "SMTP_PORT"),
        ({"SMTP_PORT": "9" * 5000}, "SMTP_PORT"),
        ({"SMTP_SECURITY": "tls-XYZZY"}, "SMTP_SECURITY"),
        ({"SMTP_HOST": "smtp://smtp.example.com-XYZZY"}, "SMTP_HOST"),
        ({"SMTP_HOST": "smtp.example.com-XYZZY:587"}, "SMTP_HOST"),
        ({"SMTP_USERNAME": "bridge-XYZZY\nx"}, "SMTP_USERNAME"),
        ({"SMTP_SECURITY": "none", "SMTP_USERNAME": "bridge-XYZZY"}, "SMTP_SECURITY"),
    ],
)
def test_settings_errors_name_the_setting_never_its_value(overrides: dict[str, str], setting: str) -> None:
    env = {"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "billing@bridge.example", **overrides}
    with pytest.raises(ConfigError) as caught:
        SmtpSettings.from_env(env)
    assert setting in str(caught.value)
    assert "XYZZY" not in str(caught.value)
    assert "-25" not in str(caught.value)
    assert "65536" not in str(caught.value)
