"""Connections: API keys that belong to a tenant and carry rights.

A key is shown once, at creation. We keep only its SHA-256 digest (the key holds 256 random bits,
so a plain digest cannot be reversed or guessed) and compare digests in constant time.
`HashAlgorithm` is stored with each key so that a later scheme (HMAC with a pepper from Key Vault)
can be introduced without locking anyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from shared.errors import BadRequest, FieldError, Forbidden, NotFound, Unauthorized

KEY_PREFIX = "ib_"
_KEY_RE = re.compile(r"ib_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

CONNECTOR_RIGHTS = ("CreateActivityRecording", "CreateInvoicePositionNote", "GetServiceAssignmentsDispatcher")
ADMIN_RIGHT = "admin"
"""Manage the tenant's billing directory and invoices (and, later, act for other tenants)."""
KNOWN_RIGHTS = frozenset((*CONNECTOR_RIGHTS, ADMIN_RIGHT))
MAX_LIMIT = 10_000
MAX_PERIOD_SECONDS = 86_400


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

    def require(self, right: str) -> None:
        if right not in self.rights:
            raise Forbidden(f"This API key may not call {right}.")


class KeyRepository(Protocol):
    def get(self, key_id: str) -> ApiKey | None: ...
    def add(self, key: ApiKey) -> None: ...
    def list_for_tenant(self, tenant: str) -> list[ApiKey]: ...
    def save(self, key: ApiKey) -> None: ...


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def validate_tenant(tenant: str) -> str:
    if not TENANT_RE.fullmatch(tenant):
        raise BadRequest(
            "The tenant id is invalid.",
            [FieldError("tenant", "must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")],
        )
    return tenant


def validate_rights(rights: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(r.strip() for r in rights if r.strip())
    unknown = sorted(chosen - KNOWN_RIGHTS)
    if unknown or not chosen:
        rule = f"must be one or more of {', '.join(sorted(KNOWN_RIGHTS))}"
        raise BadRequest("The rights are invalid.", [FieldError("rights", rule)])
    return chosen


class KeyService:
    def __init__(
        self,
        repository: KeyRepository,
        *,
        clock: Callable[[], datetime],
        default_limit: int,
        default_period_seconds: int,
        cache_seconds: float = 15.0,
    ) -> None:
        self._repo = repository
        self._clock = clock
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
        if errors:
            raise BadRequest("The key settings are invalid.", errors)
        key_id = secrets.token_hex(8)
        raw = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            key_id=key_id,
            tenant=validate_tenant(tenant),
            name=name or f"{tenant} connection",
            rights=validate_rights(rights),
            limit=limit,
            period_seconds=period,
            digest=digest(raw),
            hash_algorithm="sha256",
            created_at=self._clock(),
        )
        self._repo.add(key)
        return key, raw

    def authenticate(self, raw_key: str | None) -> Principal:
        if not raw_key:
            raise Unauthorized("An API key is required: pass it in the apikey query parameter.")
        match = _KEY_RE.fullmatch(raw_key.strip())
        key = self._lookup(match.group(1)) if match else None
        # Compare digests even when the key id is unknown, so timing says nothing about which ids exist.
        expected = key.digest if key else "0" * 64
        valid = hmac.compare_digest(expected, digest(raw_key.strip()))
        if key is None or not valid or not key.active:
            raise Unauthorized("The API key is not valid.")
        return Principal(key.key_id, key.tenant, key.name, key.rights, key.limit, key.period_seconds)

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
