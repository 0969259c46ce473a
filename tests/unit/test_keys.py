"""API keys: issued once, stored only as a digest, checked on every call."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import shared.platform.keys
from shared.errors import Denied, DomainError, Invalid, NotFound, Unauthenticated, Unavailable
from shared.platform.keys import CONNECTOR_RIGHTS, KEY_PREFIX, ApiKey, KeyService, Principal
from shared.platform.secrets import SecretValue
from shared.web.status import error_body, error_response, http_status
from tests.support.fakes import FakeClock, FakeKeyRepository
from tests.support.secret_store import secrets_from

KEY_SHAPE = re.compile(r"ib_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")
PEPPER = SecretValue("unit-test-pepper-0123456789abcdef-not-a-secret")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 1, 6, 0, tzinfo=UTC))


@pytest.fixture
def repo() -> FakeKeyRepository:
    return FakeKeyRepository()


def service(
    repo: FakeKeyRepository,
    clock: FakeClock,
    cache_seconds: float = 0.0,
    pepper: Callable[[], SecretValue] = lambda: PEPPER,
) -> KeyService:
    return KeyService(
        repo,
        clock=clock.now,
        pepper=pepper,
        default_limit=100,
        default_period_seconds=60,
        cache_seconds=cache_seconds,
    )


@pytest.fixture
def keys(repo: FakeKeyRepository, clock: FakeClock) -> KeyService:
    return service(repo, clock)


def refused(keys: KeyService, raw: str | None) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        keys.authenticate(raw)
    error = caught.value
    assert http_status(error) == 401
    if raw and raw.strip():
        assert raw.strip() not in str(error)
        assert raw.strip() not in repr(error_body(error))
    return error


def bad_request_fields(error: DomainError) -> list[str]:
    assert http_status(error) == 400
    return [e["Field"] for e in error_body(error)["Errors"]]


# --- creating ------------------------------------------------------------------------------------


def test_created_key_has_the_documented_shape(keys: KeyService) -> None:
    stored, raw = keys.create("acme")

    assert KEY_SHAPE.fullmatch(raw)
    assert raw.split("_")[1] == stored.key_id


def test_every_created_key_is_different(keys: KeyService) -> None:
    made = [keys.create("acme") for _ in range(20)]

    assert len({raw for _, raw in made}) == 20
    assert len({stored.key_id for stored, _ in made}) == 20


def test_repository_holds_only_a_digest_of_the_key(keys: KeyService, repo: FakeKeyRepository) -> None:
    created, raw = keys.create("acme", name="Dispatch Logic App")
    # The secret part follows `<prefix><key id>_`; it may itself contain "_" (URL-safe base64).
    secret = raw.removeprefix(f"{KEY_PREFIX}{created.key_id}_")
    assert len(secret) >= 40

    [stored] = repo.all()
    for value in dataclasses.astuple(stored):
        assert raw not in str(value)
        assert secret not in str(value)
    assert stored.digest == hmac.new(PEPPER.reveal().encode(), raw.encode(), hashlib.sha256).hexdigest()
    assert stored.hash_algorithm == "hmac-sha256"


def test_created_key_records_tenant_name_rights_limit_and_creation_time(keys: KeyService, clock: FakeClock) -> None:
    stored, _ = keys.create("acme", name="Dispatch", rights=["CreateActivityRecording"], limit=5, period_seconds=10)

    assert (stored.tenant, stored.name, stored.rights) == ("acme", "Dispatch", frozenset({"CreateActivityRecording"}))
    assert (stored.limit, stored.period_seconds) == (5, 10)
    assert stored.created_at == clock.now()
    assert stored.active


def test_key_without_limit_or_period_gets_the_configured_defaults(repo: FakeKeyRepository, clock: FakeClock) -> None:
    keys = KeyService(repo, clock=clock.now, pepper=lambda: PEPPER, default_limit=7, default_period_seconds=30)

    stored, _ = keys.create("acme")

    assert (stored.limit, stored.period_seconds) == (7, 30)
    assert stored.rights == frozenset(CONNECTOR_RIGHTS)


@pytest.mark.parametrize("tenant", ["", "-acme", "_acme", "ac me", "acme/evil", "ä", "a" * 65])
def test_invalid_tenant_is_refused_naming_the_tenant(keys: KeyService, repo: FakeKeyRepository, tenant: str) -> None:
    with pytest.raises(Invalid) as caught:
        keys.create(tenant)

    assert bad_request_fields(caught.value) == ["tenant"]
    assert repo.all() == []


@pytest.mark.parametrize("tenant", ["a", "Acme-GmbH_2", "9" * 64])
def test_valid_tenant_is_accepted(keys: KeyService, tenant: str) -> None:
    assert keys.create(tenant)[0].tenant == tenant


@pytest.mark.parametrize("rights", [[], [" "], ["DeleteEverything"], ["CreateActivityRecording", "Admin"]])
def test_unknown_or_missing_rights_are_refused_naming_the_rights(
    keys: KeyService, repo: FakeKeyRepository, rights: list[str]
) -> None:
    with pytest.raises(Invalid) as caught:
        keys.create("acme", rights=rights)

    assert bad_request_fields(caught.value) == ["rights"]
    assert repo.all() == []


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"period_seconds": 0}, "period"),
        ({"period_seconds": 86_401}, "period"),
        ({"name": "n" * 201}, "name"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_field(
    keys: KeyService, repo: FakeKeyRepository, settings: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        keys.create("acme", **settings)

    assert bad_request_fields(caught.value) == [field]
    assert repo.all() == []


def test_all_out_of_range_settings_are_reported_together(keys: KeyService) -> None:
    with pytest.raises(Invalid) as caught:
        keys.create("acme", limit=0, period_seconds=0)

    assert bad_request_fields(caught.value) == ["limit", "period"]


def test_settings_at_their_bounds_are_accepted(keys: KeyService) -> None:
    low, _ = keys.create("acme", limit=1, period_seconds=1)
    high, _ = keys.create("acme", limit=10_000, period_seconds=86_400)

    assert (low.limit, low.period_seconds, high.limit, high.period_seconds) == (1, 1, 10_000, 86_400)


# --- authenticating ------------------------------------------------------------------------------


def test_created_key_authenticates_as_its_tenant_with_its_rights_and_limit(keys: KeyService) -> None:
    stored, raw = keys.create(
        "acme", name="Dispatch", rights=["GetServiceAssignmentsDispatcher"], limit=3, period_seconds=9
    )

    who = keys.authenticate(raw)

    assert who == Principal(stored.key_id, "acme", "Dispatch", frozenset({"GetServiceAssignmentsDispatcher"}), 3, 9)


def test_key_with_surrounding_whitespace_authenticates(keys: KeyService) -> None:
    stored, raw = keys.create("acme")

    assert keys.authenticate(f"  {raw}\n").key_id == stored.key_id


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_key_is_unauthorized(keys: KeyService, raw: str | None) -> None:
    refused(keys, raw)


def test_well_formed_but_unknown_key_is_unauthorized(keys: KeyService) -> None:
    keys.create("acme")

    refused(keys, "ib_0123456789abcdef_" + "A" * 43)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1],  # one character short
        lambda raw: raw + "x",
        lambda raw: raw.upper(),
        lambda raw: raw.replace("ib_", "xx_", 1),
        lambda raw: "hello",
        lambda raw: raw.split("_")[1],  # the key id alone
    ],
)
def test_malformed_key_is_unauthorized(keys: KeyService, mangle: Any) -> None:
    _, raw = keys.create("acme")

    refused(keys, mangle(raw))


def test_known_key_id_with_the_wrong_secret_is_unauthorized(keys: KeyService) -> None:
    created, raw = keys.create("acme")
    prefix = f"{KEY_PREFIX}{created.key_id}"
    secret = raw.removeprefix(prefix + "_")  # may itself contain "_" (URL-safe base64)
    other = ("B" if secret[0] != "B" else "C") + secret[1:]

    refused(keys, f"{prefix}_{other}")


def test_one_tenants_key_id_with_another_keys_secret_is_unauthorized(keys: KeyService) -> None:
    first_key, _ = keys.create("acme")
    second_key, second = keys.create("globex")
    second_secret = second.removeprefix(f"{KEY_PREFIX}{second_key.key_id}_")

    refused(keys, f"{KEY_PREFIX}{first_key.key_id}_{second_secret}")


def test_revoked_key_is_unauthorized(keys: KeyService, clock: FakeClock) -> None:
    stored, raw = keys.create("acme")
    keys.authenticate(raw)
    clock.advance(timedelta(days=1))

    revoked = keys.revoke(stored.key_id)

    assert not revoked.active
    assert revoked.revoked_at == clock.now()
    refused(keys, raw)


def test_revoking_one_key_leaves_the_others_working(keys: KeyService) -> None:
    first, _ = keys.create("acme")
    _, second = keys.create("acme")

    keys.revoke(first.key_id)

    assert keys.authenticate(second).tenant == "acme"


def test_revoking_twice_keeps_the_first_revocation_time(keys: KeyService, clock: FakeClock) -> None:
    stored, _ = keys.create("acme")
    first = keys.revoke(stored.key_id).revoked_at
    clock.advance(timedelta(hours=1))

    assert keys.revoke(stored.key_id).revoked_at == first


def test_revoking_an_unknown_key_is_not_found(keys: KeyService) -> None:
    with pytest.raises(NotFound) as caught:
        keys.revoke("0123456789abcdef")

    assert http_status(caught.value) == 404


# --- rights --------------------------------------------------------------------------------------


def test_principal_without_a_right_is_forbidden(keys: KeyService) -> None:
    _, raw = keys.create("acme", rights=["GetServiceAssignmentsDispatcher"])
    who = keys.authenticate(raw)

    with pytest.raises(Denied) as caught:
        who.require("CreateInvoicePositionNote")

    assert http_status(caught.value) == 403
    assert "CreateInvoicePositionNote" in caught.value.message


def test_principal_with_a_right_may_use_it(keys: KeyService) -> None:
    _, raw = keys.create("acme", rights=["GetServiceAssignmentsDispatcher"])

    keys.authenticate(raw).require("GetServiceAssignmentsDispatcher")


# --- cache ---------------------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(shared.platform.keys, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def test_revoke_through_the_same_service_takes_effect_at_once_despite_the_cache(
    repo: FakeKeyRepository, clock: FakeClock, monotonic: FakeMonotonic
) -> None:
    keys = service(repo, clock, cache_seconds=60)
    stored, raw = keys.create("acme")
    keys.authenticate(raw)
    keys.authenticate(raw)

    keys.revoke(stored.key_id)

    refused(keys, raw)


def test_cached_key_is_not_read_again_within_the_cache_period(
    repo: FakeKeyRepository, clock: FakeClock, monotonic: FakeMonotonic
) -> None:
    keys = service(repo, clock, cache_seconds=15)
    _, raw = keys.create("acme")
    keys.authenticate(raw)
    reads = repo.reads

    monotonic.now += 14
    keys.authenticate(raw)

    assert repo.reads == reads


def test_key_revoked_by_another_instance_is_refused_once_the_cache_period_has_passed(
    repo: FakeKeyRepository, clock: FakeClock, monotonic: FakeMonotonic
) -> None:
    here = service(repo, clock, cache_seconds=15)
    elsewhere = service(repo, clock, cache_seconds=15)
    stored, raw = here.create("acme")
    here.authenticate(raw)

    elsewhere.revoke(stored.key_id)
    monotonic.now += 15

    refused(here, raw)


def test_without_a_cache_a_revoke_anywhere_takes_effect_at_once(repo: FakeKeyRepository, clock: FakeClock) -> None:
    here = service(repo, clock, cache_seconds=0)
    elsewhere = service(repo, clock, cache_seconds=0)
    stored, raw = here.create("acme")
    here.authenticate(raw)

    elsewhere.revoke(stored.key_id)

    refused(here, raw)


class RevokeDuringRead(FakeKeyRepository):
    """Runs `during_read` once, after a read has taken its snapshot and before it returns, as a
    revoke on another thread of the same process would interleave with an in-flight call."""

    def __init__(self) -> None:
        super().__init__()
        self.during_read: Any = None

    def get(self, key_id: str) -> ApiKey | None:
        snapshot = super().get(key_id)
        hook, self.during_read = self.during_read, None
        if hook is not None:
            hook()
        return snapshot


def test_revoke_racing_an_in_flight_authentication_still_takes_effect_at_once(
    clock: FakeClock, monotonic: FakeMonotonic
) -> None:
    repo = RevokeDuringRead()
    keys = service(repo, clock, cache_seconds=60)
    stored, raw = keys.create("acme")
    repo.during_read = lambda: keys.revoke(stored.key_id)

    keys.authenticate(raw)  # in flight when the revoke happened: may still pass

    refused(keys, raw)


# --- listing -------------------------------------------------------------------------------------


def test_list_returns_only_that_tenants_keys_oldest_first(keys: KeyService, clock: FakeClock) -> None:
    first, _ = keys.create("acme", name="first")
    clock.advance(timedelta(minutes=1))
    keys.create("globex", name="other tenant")
    clock.advance(timedelta(minutes=1))
    second, _ = keys.create("acme", name="second")
    keys.revoke(first.key_id)

    listed = keys.list("acme")

    assert [k.key_id for k in listed] == [first.key_id, second.key_id]
    assert [k.active for k in listed] == [False, True]


def test_list_of_a_tenant_without_keys_is_empty(keys: KeyService) -> None:
    keys.create("acme")

    assert keys.list("globex") == []


def test_list_with_an_invalid_tenant_is_refused(keys: KeyService) -> None:
    with pytest.raises(Invalid) as caught:
        keys.list("not a tenant")

    assert bad_request_fields(caught.value) == ["tenant"]


# --- pepper and the keys stored before it ----------------------------------------------------------


def legacy_key(repo: FakeKeyRepository, clock: FakeClock, tenant: str = "acme") -> tuple[ApiKey, str]:
    """A key as the code before the pepper stored it: plain SHA-256, HashAlgorithm "sha256"."""
    key_id = "0123456789abcdef"
    raw = f"ib_{key_id}_" + "k" * 43
    key = ApiKey(
        key_id=key_id,
        tenant=tenant,
        name="old connection",
        rights=frozenset(CONNECTOR_RIGHTS),
        limit=100,
        period_seconds=60,
        digest=hashlib.sha256(raw.encode()).hexdigest(),
        hash_algorithm="sha256",
        created_at=clock.now(),
    )
    repo.add(key)
    return key, raw


def peppered(raw: str, pepper: SecretValue = PEPPER) -> str:
    return hmac.new(pepper.reveal().encode(), raw.encode(), hashlib.sha256).hexdigest()


def test_key_stored_before_the_pepper_still_works_and_is_restored_peppered(
    keys: KeyService, repo: FakeKeyRepository, clock: FakeClock
) -> None:
    key, raw = legacy_key(repo, clock)

    assert keys.authenticate(raw).key_id == key.key_id

    [stored] = repo.all()
    assert (stored.hash_algorithm, stored.digest) == ("hmac-sha256", peppered(raw))
    assert (stored.tenant, stored.rights, stored.revoked_at) == (key.tenant, key.rights, None)
    assert keys.authenticate(raw).key_id == key.key_id  # and it keeps working, now peppered


def test_legacy_key_with_a_wrong_secret_is_refused_and_left_as_it_was(
    keys: KeyService, repo: FakeKeyRepository, clock: FakeClock
) -> None:
    key, raw = legacy_key(repo, clock)

    refused(keys, raw[:-1] + "j")

    assert repo.all() == [key]


def test_revoked_legacy_key_is_refused_and_not_restored(
    keys: KeyService, repo: FakeKeyRepository, clock: FakeClock
) -> None:
    key, raw = legacy_key(repo, clock)
    keys.revoke(key.key_id)

    refused(keys, raw)

    assert repo.all()[0].hash_algorithm == "sha256"


class FailingUpdate(FakeKeyRepository):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def update_digest(self, key_id: str, digest: str, hash_algorithm: str) -> None:
        if self.fail:
            raise ConnectionError("storage went away")
        super().update_digest(key_id, digest, hash_algorithm)


def test_failing_to_restore_a_legacy_key_does_not_fail_the_call_and_is_tried_again(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    repo = FailingUpdate()
    keys = service(repo, clock)
    key, raw = legacy_key(repo, clock)

    assert keys.authenticate(raw).key_id == key.key_id
    assert repo.all()[0].hash_algorithm == "sha256"
    assert "ConnectionError" in caplog.text
    assert raw not in caplog.text

    repo.fail = False
    keys.authenticate(raw)
    assert repo.all()[0].hash_algorithm == "hmac-sha256"


def test_a_stored_digest_is_useless_without_the_pepper(repo: FakeKeyRepository, clock: FakeClock) -> None:
    _, raw = service(repo, clock).create("acme")
    other = SecretValue("another-pepper-0123456789abcdef-not-a-secret")
    elsewhere = service(repo, clock, pepper=lambda: other)

    refused(elsewhere, raw)


def test_key_with_an_unknown_hash_algorithm_is_refused(
    keys: KeyService, repo: FakeKeyRepository, clock: FakeClock
) -> None:
    key, raw = legacy_key(repo, clock)
    repo.save(dataclasses.replace(key, hash_algorithm="md5"))

    refused(keys, raw)


@pytest.mark.parametrize("call", ["authenticate", "create"])
def test_without_a_pepper_keys_are_neither_checked_nor_made_503_naming_the_setting(
    repo: FakeKeyRepository, clock: FakeClock, call: str
) -> None:
    keys = service(repo, clock, pepper=secrets_from({}).api_key_pepper)

    with pytest.raises(Unavailable) as caught:
        keys.authenticate("ib_0123456789abcdef_" + "k" * 43) if call == "authenticate" else keys.create("acme")

    assert http_status(caught.value) == 503
    assert "API_KEY_PEPPER" in caught.value.message
    assert error_response(caught.value).headers["Retry-After"].isdigit()
    assert repo.all() == []


def test_a_short_pepper_is_refused_with_503_without_showing_it(repo: FakeKeyRepository, clock: FakeClock) -> None:
    short = "Sh0rt-pepper-value"
    keys = service(repo, clock, pepper=secrets_from({"API_KEY_PEPPER": short}).api_key_pepper)

    with pytest.raises(Unavailable) as caught:
        keys.authenticate("ib_0123456789abcdef_" + "k" * 43)

    assert "API_KEY_PEPPER" in caught.value.message
    assert "at least 32 characters" in caught.value.message
    for shown in (
        str(caught.value),
        repr(caught.value),
        repr(error_body(caught.value)),
        repr(error_response(caught.value).headers),
    ):
        assert short not in shown


def test_a_key_may_carry_its_users_e_mail_which_the_caller_then_has(keys: KeyService) -> None:
    stored, raw = keys.create("acme", rights=["reseller"], email="ap@acme.example")

    assert stored.email == "ap@acme.example"
    assert keys.authenticate(raw).email == "ap@acme.example"
    assert keys.authenticate(keys.create("acme")[1]).email is None


def test_a_malformed_e_mail_is_refused_naming_the_field(keys: KeyService) -> None:
    with pytest.raises(Invalid) as caught:
        keys.create("acme", email="not an address")

    assert [e.field for e in caught.value.errors] == ["email"]


def test_the_export_rights_are_known_and_distinct_from_the_tenant_admin_right(keys: KeyService) -> None:
    _, raw = keys.create("acme", rights=["reseller", "operator"])

    assert keys.authenticate(raw).rights == {"reseller", "operator"}
    assert "operator" not in keys.authenticate(keys.create("acme", rights=["admin"])[1]).rights
