"""The one rule for an e-mail address, shared by every field that stores one (a customer's billing
address, the tenant's accounting address, an API key's owner, a queue message's `requestedBy`) and by
the SMTP adapter that sends to it: what is stored can be sent, and what cannot be sent is refused when
it is entered, not when the month-end report goes out.

The check is linear in the input and bounded before anything else runs: an address longer than 254
characters is refused on its length alone (RFC 5321 section 4.5.3.1.3: a path is at most 256 octets,
angle brackets included; https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.3). No regular
expression with backtracking is involved.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 254
MAX_LOCAL_PART = 64  # RFC 5321 section 4.5.3.1.1
MAX_LABEL = 63  # RFC 1035 section 2.3.4

RULE = "must be an e-mail address such as billing@example.com"
_NOT_IN_ADDRESS = frozenset(',;<>()[]\\"')
"""Characters that make a list, a display name or a quoted or bracketed form: one plain address only."""


def address_problem(text: str) -> str | None:
    """Why `text` is not one plain e-mail address (`local@domain.tld`); None when it is one."""
    if len(text) > MAX_LENGTH:
        return f"{RULE}, at most {MAX_LENGTH} characters"
    for char in text:
        if char in _NOT_IN_ADDRESS or char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return f"{RULE}: one address, without spaces, commas, display name, control or invisible characters"
    local, at, domain = text.rpartition("@")
    if not at or "@" in local or not local or not domain:
        return RULE
    if len(local) > MAX_LOCAL_PART:
        return f"{RULE}; the part before @ has at most {MAX_LOCAL_PART} characters"
    labels = domain.split(".")
    if len(labels) < 2 or any(not label or len(label) > MAX_LABEL for label in labels):
        return f"{RULE}; the part after @ is a domain name with a dot, such as example.com"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return f"{RULE}; the part before @ does not start or end with a dot or hold two in a row"
    return None


def is_address(text: str) -> bool:
    return address_problem(text) is None


def first_address(text: str | None) -> str | None:
    """The first valid address in a list of addresses separated by spaces, commas or semicolons (as
    e-conomic's customer `email` field holds several, separated by a space)."""
    for part in addresses_in(text):
        return part
    return None


def addresses_in(text: str | None) -> list[str]:
    """Every valid address in a list separated by whitespace, commas or semicolons, in order."""
    if not text:
        return []
    parts = text.replace(",", " ").replace(";", " ").split()
    return [part for part in parts if is_address(part)]
