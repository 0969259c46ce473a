"""Every secret the app uses, read through one interface: `Secrets`.

In production the source is Azure Key Vault (`shared.adapters.keyvault`, chosen when the app setting
`KEY_VAULT_URL` is set); otherwise the same secrets are read from app settings / the environment
(a laptop, or Key Vault references `@Microsoft.KeyVault(...)` that the platform resolves).

`SecretStore` caches what the source returns, in process, for `ttl` seconds. When the source is
unavailable (unreachable, throttled, 5xx) a cached value keeps serving until it is `max_staleness`
seconds old; a secret the source says is missing is never served from the cache. Concurrent callers
of one secret share one fetch. A caller that learns a value is stale (e-conomic answers 401) passes
it back as `stale=` to force one refresh, shared by everyone who saw the same stale value.

Secret values travel as `SecretValue`, whose `repr`/`str` never show them; `reveal()` is the only
way to the text, so a value that reaches a log line or an error message shows as `SecretValue('***')`.
Errors name the secret (its Key Vault or app setting name), never its value.
"""

from __future__ import annotations

import base64
import hmac
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from shared.errors import Unavailable
from shared.platform.tenants import TENANT_RE

log = logging.getLogger("invoice_bridge.secrets")

MIN_PEPPER_CHARS = 32
"""An API key pepper shorter than this is refused: it would add nothing a guesser cannot try."""

UNRESOLVED_REFERENCE = "@Microsoft.KeyVault("
"""What an app setting holds when the platform could not resolve its Key Vault reference."""


class SecretValue:
    """A secret's text. Shown as `SecretValue('***')` everywhere; `reveal()` returns the text."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret value must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    __hash__ = None  # type: ignore[assignment]  # equal values must not be told apart by a hash either

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled: secrets are never stored outside Key Vault")

    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValue:
        return self


@dataclass(frozen=True)
class SecretRef:
    """One secret: its name in Key Vault, its app setting name, and what the app needs it for."""

    key_vault_name: str
    setting_name: str
    purpose: str


# --- the secrets and their names ------------------------------------------------------------------
# Key Vault secret names: 1-127 of 0-9 a-z A-Z and '-', compared case-insensitively.
# App setting names (Linux): letters, digits, '_' and '.'. Settings are compared case-insensitively
# on Windows and in the portal, so every name below is unique ignoring case, too.

ECONOMIC_APP_SECRET_TOKEN = SecretRef("economic-app-secret-token", "ECONOMIC_APP_SECRET_TOKEN", "call e-conomic")
SMTP_PASSWORD = SecretRef("smtp-password", "SMTP_PASSWORD", "send notification mail")
API_KEY_PEPPER = SecretRef("api-key-pepper", "API_KEY_PEPPER", "check API keys")
GRANT_TOKEN_KEY_VAULT_PREFIX = "economic-grant-token"  # noqa: S105 - a name, not a secret
GRANT_TOKEN_SETTING_PREFIX = "ECONOMIC_GRANT_TOKEN"  # noqa: S105

_PLAIN_TENANT = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def economic_grant_token_ref(tenant: str) -> SecretRef:
    """The agreement grant token of one tenant.

    A tenant id of lower-case letters and digits joined by single hyphens (`acme`, `acme-gmbh-2`) is
    used as it is: `economic-grant-token-acme-gmbh-2` / `ECONOMIC_GRANT_TOKEN_ACME_GMBH_2`. Any other
    tenant id (capitals, `_`, `--`, a trailing `-`) is spelled in base32 after a doubled separator:
    `economic-grant-token--<base32>` / `ECONOMIC_GRANT_TOKEN__<BASE32>`, so that `a-b`, `a_b` and `A-b`
    never share a token in a case-insensitive store. `python -m shared.manage secrets names --tenant T`
    prints both names.
    """
    if not TENANT_RE.fullmatch(tenant):
        raise ValueError("not a tenant id")
    if _PLAIN_TENANT.fullmatch(tenant):
        kv, setting = f"-{tenant}", "_" + tenant.upper().replace("-", "_")
    else:
        encoded = base64.b32encode(tenant.encode("ascii")).decode("ascii").rstrip("=")
        kv, setting = f"--{encoded.lower()}", f"__{encoded}"
    return SecretRef(
        GRANT_TOKEN_KEY_VAULT_PREFIX + kv, GRANT_TOKEN_SETTING_PREFIX + setting, f"call e-conomic for tenant {tenant}"
    )


FIXED_SECRETS = (ECONOMIC_APP_SECRET_TOKEN, SMTP_PASSWORD, API_KEY_PEPPER)


# --- errors -----------------------------------------------------------------------------------------


class SecretError(Unavailable):
    """Unavailable, with when to retry. `secret` says which secret, in the source's words; never its value."""

    def __init__(self, message: str, *, secret: str = "", retry_after: int | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.secret = secret


class SecretMissing(SecretError):
    """The source says the secret does not exist (or is empty)."""


class SecretUnavailable(SecretError):
    """The source could not be asked (outage, throttling, 5xx) and no cached value is young enough."""


class SecretInvalid(SecretError):
    """The secret exists but cannot be used as it is (e.g. a pepper that is too short)."""


class SourceUnavailable(Exception):
    """Raised by a `SecretSource` that could not answer. `reason` never holds a secret value."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


# --- sources ----------------------------------------------------------------------------------------


class SecretSource(Protocol):
    def fetch(self, ref: SecretRef) -> SecretValue | None:
        """The current value, or None when the source has no such secret. Raises `SourceUnavailable`
        when the source cannot answer now."""
        ...

    def where(self, ref: SecretRef) -> str:
        """How an operator finds the secret, e.g. "Key Vault secret 'api-key-pepper'"."""
        ...


class EnvironmentSource:
    """App settings: the environment of the process (`local.settings.json` locally)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def fetch(self, ref: SecretRef) -> SecretValue | None:
        raw = self._env.get(ref.setting_name)
        if raw is None or not raw.strip():
            return None
        if raw.strip().startswith(UNRESOLVED_REFERENCE):
            # The platform leaves the reference text in place when it cannot read the vault.
            raise SourceUnavailable("the platform could not resolve its Key Vault reference")
        return SecretValue(raw)

    def where(self, ref: SecretRef) -> str:
        return f"app setting {ref.setting_name}"


# --- the cache --------------------------------------------------------------------------------------


@dataclass
class _Flight:
    """One fetch in progress; callers of the same secret wait for it instead of fetching again."""

    done: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0
    value: SecretValue | None = None


@dataclass
class _Entry:
    value: SecretValue | None = None
    fetched_at: float = 0.0
    failures: int = 0
    retry_at: float | None = None
    """After a failed fetch: no new fetch before this (back-off), stale value or fast 503 meanwhile."""
    missing: bool = False
    reason: str = ""
    flight: _Flight | None = None


class SecretStore:
    """In-process cache in front of a `SecretSource`; thread-safe (the Functions worker runs sync
    functions in a thread pool). `clock` is monotonic seconds."""

    def __init__(
        self,
        source: SecretSource,
        *,
        ttl: float,
        max_staleness: float,
        clock: Callable[[], float] = time.monotonic,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        if max_staleness < ttl:
            raise ValueError("max_staleness must be at least ttl")
        self.source = source
        self._ttl = ttl
        self._max_staleness = max_staleness
        self._clock = clock
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._lock = threading.Lock()
        self._entries: dict[SecretRef, _Entry] = {}

    def get(self, ref: SecretRef, *, stale: SecretValue | None = None) -> SecretValue:
        """The secret's value. With `stale` (a value the caller found no longer works), a value other
        than `stale`: the cached one if someone refreshed it meanwhile, else a new fetch."""
        forced = stale is not None
        with self._lock:
            entry = self._entries.get(ref)
            if entry is None:  # not setdefault(ref, _Entry()): that builds an entry on every call
                entry = self._entries[ref] = _Entry()
            now = self._clock()
            if forced and entry.value is not None and entry.value != stale:
                forced = False  # someone refreshed it meanwhile: from here on an ordinary read
            if not forced and entry.value is not None and now - entry.fetched_at < self._ttl:
                return entry.value
            flight = entry.flight
            leader = flight is None
            if flight is None:
                if entry.retry_at is not None and now < entry.retry_at:
                    return self._after_failure(ref, entry, now, forced)
                flight = entry.flight = _Flight()
            else:
                flight.waiters += 1
        if leader:
            self._fetch(ref, entry, flight)
        else:
            flight.done.wait()
        if flight.value is not None:
            return flight.value
        with self._lock:
            return self._after_failure(ref, entry, self._clock(), forced)

    def waiting(self, ref: SecretRef) -> int:
        """How many callers wait for a fetch of `ref` that another caller started (0 when none runs)."""
        with self._lock:
            entry = self._entries.get(ref)
            return entry.flight.waiters if entry and entry.flight else 0

    def where(self, ref: SecretRef) -> str:
        return self.source.where(ref)

    def _fetch(self, ref: SecretRef, entry: _Entry, flight: _Flight) -> None:
        value: SecretValue | None = None
        hint: float | None = None
        reason = ""
        try:
            try:
                value = self.source.fetch(ref)
            except SourceUnavailable as error:
                reason, hint = error.reason, error.retry_after
            except Exception as error:  # a failing source must not become a 500 that bypasses the cache
                reason = f"unexpected {type(error).__name__}"
            with self._lock:
                now = self._clock()
                if value is not None:
                    entry.value, entry.fetched_at = value, now
                    entry.failures, entry.retry_at, entry.missing, entry.reason = 0, None, False, ""
                    flight.value = value
                else:
                    entry.failures += 1
                    delay = min(self._backoff_max, self._backoff_initial * 2 ** (entry.failures - 1))
                    entry.retry_at = now + min(max(delay, hint or 0.0), 5 * self._backoff_max)
                    entry.missing = not reason
                    entry.reason = reason or "missing"
                    if entry.missing:
                        entry.value = None  # never serve a secret the source says is gone
                    usable = entry.value is not None and now - entry.fetched_at < self._max_staleness
                    age = f"serving the cached value ({now - entry.fetched_at:.0f} s old)"
                    log.warning(
                        "Could not read %s: %s; %s",
                        self.where(ref),
                        entry.reason,
                        age if usable else "nothing cached to serve",
                    )
        finally:
            with self._lock:
                entry.flight = None
            flight.done.set()

    def _after_failure(self, ref: SecretRef, entry: _Entry, now: float, forced: bool) -> SecretValue:
        """The answer while the last fetch failed: a young enough cached value, or a 503."""
        young = now - entry.fetched_at < self._max_staleness
        if entry.value is not None and young and not entry.missing and not forced:
            return entry.value
        retry_after = max(1, math.ceil((entry.retry_at or now) - now))
        where = self.where(ref)
        if entry.missing:
            raise SecretMissing(
                f"Not configured: {where} is missing; it is needed to {ref.purpose}.",
                retry_after=retry_after,
                secret=where,
            )
        raise SecretUnavailable(
            f"Secret unavailable: {where} cannot be read right now ({entry.reason}); retry shortly.",
            retry_after=retry_after,
            secret=where,
        )


class Secrets:
    """Typed access to every secret the app uses. Each accessor takes `stale=`: the value that was just
    refused (e.g. e-conomic answered 401), to get a newer one with at most one fetch."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def economic_app_secret_token(self, *, stale: SecretValue | None = None) -> SecretValue:
        return self.store.get(ECONOMIC_APP_SECRET_TOKEN, stale=stale)

    def economic_grant_token(self, tenant: str, *, stale: SecretValue | None = None) -> SecretValue:
        return self.store.get(economic_grant_token_ref(tenant), stale=stale)

    def smtp_password(self, *, stale: SecretValue | None = None) -> SecretValue:
        return self.store.get(SMTP_PASSWORD, stale=stale)

    def api_key_pepper(self) -> SecretValue:
        pepper = self.store.get(API_KEY_PEPPER)
        if len(pepper.reveal()) < MIN_PEPPER_CHARS:
            where = self.store.where(API_KEY_PEPPER)
            raise SecretInvalid(
                f"Not configured: {where} is too short; it must have at least {MIN_PEPPER_CHARS} characters.",
                retry_after=60,
                secret=where,
            )
        return pepper
