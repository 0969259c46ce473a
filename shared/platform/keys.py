"""Connections: API keys that belong to a tenant and carry rights.

A key is shown once, at creation. We keep only HMAC-SHA256(pepper, key), the pepper being a secret
(`API_KEY_PEPPER`, from Key Vault in production) that never sits next to the digests, and compare
digests in constant time. `HashAlgorithm` is stored with each key: keys created before the pepper
existed are plain SHA-256 ("sha256"); they still authenticate and are re-stored as "hmac-sha256" on
their first successful use, so no one is locked out by the upgrade.

The pepper cannot be changed in place: every "hmac-sha256" digest depends on it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from shared.email_address import address_problem
from shared.errors import Denied, FieldError, Invalid, NotFound, Unauthenticated
from shared.platform.tenants import validate_tenant

if TYPE_CHECKING:
    from shared.platform.secrets import SecretValue

log = logging.getLogger("invoice_bridge.keys")

KEY_PREFIX = "ib_"
_KEY_RE = re.compile(r"ib_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")

CONNECTOR_RIGHTS = ("CreateActivityRecording", "CreateInvoicePositionNote", "GetServiceAssignmentsDispatcher")
ADMIN_RIGHT = "admin"
"""Manage the tenant's billing directory and invoices. Never reaches another tenant."""
RESELLER_RIGHT = "reseller"
"""Export the tenant's own invoice drafts to its accounting system and read those exports."""
OPERATOR_RIGHT = "operator"
"""The platform's administrators (the export's "ADMIN" access level): export for any tenant and use
`adminMode`. Kept apart from `admin`, which every tenant's billing keys carry."""
KNOWN_RIGHTS = frozenset((*CONNECTOR_RIGHTS, ADMIN_RIGHT, RESELLER_RIGHT, OPERATOR_RIGHT))
MAX_LIMIT = 10_000
MAX_PERIOD_SECONDS = 86_400
HMAC_SHA256 = "hmac-sha256"
LEGACY_SHA256 = "sha256"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant: str
    name: str
    rights: frozenset[str]
    limit: int
    period_seconds: int
    digest: str
    hash_algorithm: str
    created_at: datetime
    revoked_at: datetime | None = None
    email: str | None = None
    """Who uses the key; the export's report is mailed there."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the connection (key id) and its tenant. Never holds the key itself."""

    key_id: str
    tenant: str
    name: str
    rights: frozenset[str]
    limit: int
    period_seconds: int
    email: str | None = None

    def require(self, right: str) -> None:
        if right not in self.rights:
            raise Denied(
                f"This API key may not call {right}.",
                [FieldError("apikey", f"needs the {right} right (manage keys create --rights ...)")],
                code="access_denied",
            )


class KeyRepository(Protocol):
    def get(self, key_id: str) -> ApiKey | None: ...
    def add(self, key: ApiKey) -> None: ...
    def list_for_tenant(self, tenant: str) -> list[ApiKey]: ...
    def save(self, key: ApiKey) -> None: ...
    def update_digest(self, key_id: str, digest: str, hash_algorithm: str) -> None:
        """Replace only the digest and its algorithm (a concurrent revoke must survive it)."""
        ...


def digest(raw_key: str) -> str:
    """Plain SHA-256: how keys were stored before the pepper existed."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def peppered_digest(pepper: SecretValue, raw_key: str) -> str:
    return hmac.new(pepper.reveal().encode("utf-8"), raw_key.encode("utf-8"), hashlib.sha256).hexdigest()


def validate_rights(rights: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(r.strip() for r in rights if r.strip())
    unknown = sorted(chosen - KNOWN_RIGHTS)
    if unknown or not chosen:
        rule = f"must be one or more of {', '.join(sorted(KNOWN_RIGHTS))}"
        raise Invalid("The rights are invalid.", [FieldError("rights", rule)])
    return chosen


class KeyService:
    def __init__(
        self,
        repository: KeyRepository,
        *,
        clock: Callable[[], datetime],
        pepper: Callable[[], SecretValue],
        default_limit: int,
        default_period_seconds: int,
        cache_seconds: float = 15.0,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._pepper = pepper
        self._default_limit = default_limit
        self._default_period = default_period_seconds
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()
        self._revocations = 0  # bumped by revoke(); a lookup that a revoke overtook is not cached

    def create(
        self,
        tenant: str,
        *,
        name: str = "",
        rights: Iterable[str] = CONNECTOR_RIGHTS,
        limit: int | None = None,
        period_seconds: int | None = None,
        email: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Returns the stored key and the plaintext key, which exists nowhere else afterwards."""
        limit = self._default_limit if limit is None else limit
        period = self._default_period if period_seconds is None else period_seconds
        errors = []
        if not 1 <= limit <= MAX_LIMIT:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
        if not 1 <= period <= MAX_PERIOD_SECONDS:
            errors.append(FieldError("period", f"must be between 1 and {MAX_PERIOD_SECONDS} seconds"))
        if len(name) > 200:
            errors.append(FieldError("name", "must be at most 200 characters"))
        problem = address_problem(email) if email is not None else None
        if problem is not None:
            errors.append(FieldError("email", problem))
        if errors:
            raise Invalid("The key settings are invalid.", errors)
        pepper = self._pepper()
        key_id = secrets.token_hex(8)
        raw = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            key_id=key_id,
            tenant=validate_tenant(tenant),
            name=name or f"{tenant} connection",
            rights=validate_rights(rights),
            limit=limit,
            period_seconds=period,
            digest=peppered_digest(pepper, raw),
            hash_algorithm=HMAC_SHA256,
            created_at=self._clock(),
            email=email,
        )
        self._repo.add(key)
        return key, raw

    def authenticate(self, raw_key: str | None) -> Principal:
        if not raw_key:
            raise Unauthenticated("An API key is required: pass it in the apikey query parameter.")
        pepper = self._pepper()  # without it no key can be checked: 503 naming the secret, not 401
        raw = raw_key.strip()
        match = _KEY_RE.fullmatch(raw)
        key = self._lookup(match.group(1)) if match else None
        # Compare digests even when the key id is unknown, so timing says nothing about which ids exist.
        legacy = key is not None and key.hash_algorithm == LEGACY_SHA256
        presented = digest(raw) if legacy else peppered_digest(pepper, raw)
        expected = key.digest if key and key.hash_algorithm in (LEGACY_SHA256, HMAC_SHA256) else "0" * 64
        valid = hmac.compare_digest(expected, presented)
        if key is None or not valid or not key.active:
            raise Unauthenticated("The API key is not valid.")
        if legacy:
            self._upgrade(key, peppered_digest(pepper, raw))
        return Principal(key.key_id, key.tenant, key.name, key.rights, key.limit, key.period_seconds, key.email)

    def _upgrade(self, key: ApiKey, new_digest: str) -> None:
        """Re-store a plain SHA-256 key as HMAC-SHA256. Best effort: the caller is already authenticated,
        and the next successful call tries again."""
        revocations = self._revocations
        try:
            self._repo.update_digest(key.key_id, new_digest, HMAC_SHA256)
        except Exception as error:
            log.warning("Could not re-store API key %s as %s: %s", key.key_id, HMAC_SHA256, type(error).__name__)
            return
        upgraded = replace(key, digest=new_digest, hash_algorithm=HMAC_SHA256)
        with self._lock:
            if revocations == self._revocations and key.key_id in self._cache:
                self._cache[key.key_id] = (self._cache[key.key_id][0], upgraded)

    def list(self, tenant: str) -> list[ApiKey]:
        return sorted(self._repo.list_for_tenant(validate_tenant(tenant)), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey:
        key = self._repo.get(key_id)
        if key is None:
            raise NotFound(f"No API key with id {key_id}.")
        if key.active:
            key = replace(key, revoked_at=self._clock())
            self._repo.save(key)
        with self._lock:
            self._revocations += 1
            self._cache.pop(key_id, None)
        return key

    def _lookup(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        revocations = self._revocations
        key = self._repo.get(key_id)
        if key is not None and self._cache_seconds > 0:
            with self._lock:
                if revocations == self._revocations:
                    self._cache[key_id] = (now, key)
        return key
