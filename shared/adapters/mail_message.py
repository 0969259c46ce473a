"""E-mail messages as `shared.adapters.smtp` sends them: addresses parsed strictly (exactly one, no line
break, no control character) and headers that cannot be injected into."""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses

from shared.email_address import address_problem

_LINE_BREAKS = ("\r", "\n")
_MIME_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")


def parse_address(text: str, *, local_domain: bool = False) -> Address:
    """One address, `a@example.com` or `Name <a@example.com>`. ValueError when it is not exactly one
    address, or has a line break. The address itself follows the one e-mail rule every stored address
    follows (`shared.email_address`), so whatever the app stored can be sent; `local_domain`: the
    sender may also be `name@localhost` (a configured sender, e.g. the local sandbox's)."""
    if not isinstance(text, str):
        raise TypeError("an e-mail address must be a string")
    if any(c in text for c in _LINE_BREAKS) or not text.isprintable():
        raise ValueError(f"e-mail address {text!r} contains a line break or control character")
    parsed = getaddresses([text])
    if len(parsed) != 1:
        raise ValueError(f"{text!r} is not exactly one e-mail address")
    name, addr = parsed[0]
    local, at, domain = addr.rpartition("@")
    problem = address_problem(addr)
    if problem is not None and not (local_domain and at and local and domain.lower() == "localhost"):
        raise ValueError(f"{text!r} is not an e-mail address: {problem}")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(f"{text!r} is not an e-mail address") from error


def build_message(
    *,
    sender: str | None,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """A message: plain `text` (and `html` as its alternative), `attachments` as (file name, MIME type,
    content). Recipients are de-duplicated ignoring case (the first spelling wins). `sender` None: the
    mailer's configured sender. Raises ValueError on a line break in the subject, an address or a file
    name (header injection) and on anything that is not an e-mail address."""
    if isinstance(to, str):
        raise TypeError("to must be a sequence of addresses, not one string")
    if any(c in subject for c in _LINE_BREAKS):
        raise ValueError("the subject must not contain line breaks")
    recipients: list[Address] = []
    seen: set[str] = set()
    for entry in to:
        address = parse_address(entry.strip() if isinstance(entry, str) else entry)
        if address.addr_spec.lower() not in seen:
            seen.add(address.addr_spec.lower())
            recipients.append(address)
    if not recipients:
        raise ValueError("a message needs at least one recipient")

    message = EmailMessage()
    if sender is not None:
        message["From"] = parse_address(sender.strip(), local_domain=True)
    message["To"] = recipients
    message["Subject"] = subject
    message.set_content(text, cte=None if text.isascii() else "quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", cte=None if html.isascii() else "quoted-printable")
    for filename, content_type, content in attachments:
        if any(c in filename for c in _LINE_BREAKS) or not filename.strip():
            raise ValueError("an attachment's file name must not be empty or contain line breaks")
        maintype, slash, subtype = content_type.partition("/")
        if not slash or not _MIME_TOKEN.fullmatch(maintype) or not _MIME_TOKEN.fullmatch(subtype):
            raise ValueError(f"{content_type!r} is not a MIME type such as application/pdf")
        message.add_attachment(content, maintype=maintype.lower(), subtype=subtype.lower(), filename=filename)
    return message
