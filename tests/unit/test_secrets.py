"""The secrets cache, names and values, against a source of our own (no Key Vault here: see
tests/integration/test_keyvault.py for the real SecretClient)."""

from __future__ import annotations

import copy
import json
import pickle
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.platform.secrets import (
    API_KEY_PEPPER,
    ECONOMIC_APP_SECRET_TOKEN,
    SMTP_PASSWORD,
    SecretMissing,
    SecretRef,
    SecretStore,
    SecretUnavailable,
    SecretValue,
    SourceUnavailable,
    economic_grant_token_ref,
)
from shared.web.status import error_response, http_status
from tests.support.secret_store import TTL, FakeClock, secrets_from, wait_until

MAX_STALENESS = 86400.0
KEY_VAULT_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")
LINUX_SETTING_NAME = re.compile(r"[A-Za-z0-9_.]+")
TENANTS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True)


class FakeSource:
    """`SecretSource` of our own: values by Key Vault name, an outage switch, a count of fetches, and an
    optional gate that holds every fetch until opened."""

    def __init__(self, **values: str) -> None:
        self.values = dict(values)
        self.outage: SourceUnavailable | None = None
        self.fetches: Counter[str] = Counter()
        self.gate: threading.Event | None = None
        self.arrived = threading.Event()

    def fetch(self, ref: SecretRef) -> SecretValue | None:
        self.fetches[ref.key_vault_name] += 1
        self.arrived.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test never opened the gate"
        if self.outage is not None:
            raise self.outage
        value = self.values.get(ref.key_vault_name)
        return SecretValue(value) if value else None

    def where(self, ref: SecretRef) -> str:
        return f"fake secret {ref.key_vault_name}"


REF = SMTP_PASSWORD
NAME = REF.key_vault_name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source() -> FakeSource:
    return FakeSource(**{NAME: "v1"})


@pytest.fixture
def store(source: FakeSource, clock: FakeClock) -> SecretStore:
    return SecretStore(source, ttl=TTL, max_staleness=MAX_STALENESS, clock=clock)


# --- fetching and caching --------------------------------------------------------------------------


def test_cold_fetch_reads_the_source_once(store: SecretStore, source: FakeSource) -> None:
    assert store.get(REF).reveal() == "v1"
    assert source.fetches[NAME] == 1


def test_within_the_ttl_the_cached_value_is_served_without_a_fetch(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    source.values[NAME] = "v2"
    clock.now += TTL - 1

    assert store.get(REF).reveal() == "v1"
    assert source.fetches[NAME] == 1


def test_after_the_ttl_the_value_is_read_again_and_a_rotation_is_seen(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    source.values[NAME] = "v2"
    clock.now += TTL

    assert store.get(REF).reveal() == "v2"
    assert source.fetches[NAME] == 2


def test_secrets_are_cached_each_on_their_own(store: SecretStore, source: FakeSource) -> None:
    source.values[API_KEY_PEPPER.key_vault_name] = "p"

    store.get(REF)
    store.get(API_KEY_PEPPER)
    store.get(REF)

    assert source.fetches == {NAME: 1, API_KEY_PEPPER.key_vault_name: 1}


# --- outages ----------------------------------------------------------------------------------------


def test_outage_within_the_staleness_limit_serves_the_cached_value(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    source.outage = SourceUnavailable("vault unreachable")
    clock.now += MAX_STALENESS - 1

    assert store.get(REF).reveal() == "v1"


def test_outage_beyond_the_staleness_limit_is_503_naming_the_secret(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    source.outage = SourceUnavailable("vault unreachable")
    clock.now += MAX_STALENESS

    with pytest.raises(SecretUnavailable) as caught:
        store.get(REF)

    error = caught.value
    assert http_status(error) == 503
    assert "fake secret smtp-password" in error.message
    assert "vault unreachable" in error.message
    assert error_response(error).headers["Retry-After"] == "1"
    assert error.secret == "fake secret smtp-password"


def test_outage_without_a_cached_value_is_503(store: SecretStore, source: FakeSource) -> None:
    source.outage = SourceUnavailable("throttled", retry_after=7)

    with pytest.raises(SecretUnavailable) as caught:
        store.get(REF)

    assert error_response(caught.value).headers["Retry-After"] == "7"


def test_after_a_failure_the_source_is_left_alone_for_a_growing_while(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    source.outage = SourceUnavailable("down")
    clock.now += TTL

    for _ in range(5):
        store.get(REF)  # stale value; one fetch, then back-off (1 s)
    assert source.fetches[NAME] == 2
    clock.now += 1
    store.get(REF)  # second failure: back-off 2 s
    clock.now += 1
    store.get(REF)
    assert source.fetches[NAME] == 3
    clock.now += 1
    source.outage = None
    source.values[NAME] = "v2"

    assert store.get(REF).reveal() == "v2"
    assert source.fetches[NAME] == 4


def test_the_sources_retry_after_is_the_least_back_off(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    source.outage = SourceUnavailable("throttled", retry_after=30)
    with pytest.raises(SecretUnavailable):
        store.get(REF)
    source.outage = None
    clock.now += 29

    with pytest.raises(SecretUnavailable) as caught:
        store.get(REF)
    assert error_response(caught.value).headers["Retry-After"] == "1"
    clock.now += 1
    assert store.get(REF).reveal() == "v1"
    assert source.fetches[NAME] == 2


def test_an_unexpected_source_error_counts_as_an_outage(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    clock.now += TTL

    def broken(ref: SecretRef) -> SecretValue | None:
        raise KeyError("bug")

    source.fetch = broken  # type: ignore[method-assign]

    assert store.get(REF).reveal() == "v1"


# --- missing secrets ---------------------------------------------------------------------------------


def test_missing_secret_is_503_naming_it_and_what_it_is_for(store: SecretStore, source: FakeSource) -> None:
    del source.values[NAME]

    with pytest.raises(SecretMissing) as caught:
        store.get(REF)

    assert http_status(caught.value) == 503
    assert (
        caught.value.message
        == "Not configured: fake secret smtp-password is missing; it is needed to send notification mail."
    )


def test_a_secret_deleted_at_the_source_is_not_served_from_the_cache(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    store.get(REF)
    del source.values[NAME]
    clock.now += TTL

    with pytest.raises(SecretMissing):
        store.get(REF)
    with pytest.raises(SecretMissing):
        store.get(REF)  # within the back-off: no fetch, still missing
    assert source.fetches[NAME] == 2


def test_a_secret_added_after_it_was_missing_is_found_once_the_back_off_ends(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    del source.values[NAME]
    with pytest.raises(SecretMissing):
        store.get(REF)
    source.values[NAME] = "v1"
    clock.now += 1

    assert store.get(REF).reveal() == "v1"


# --- forced refresh ---------------------------------------------------------------------------------


def test_a_refused_value_forces_one_fetch_within_the_ttl(store: SecretStore, source: FakeSource) -> None:
    old = store.get(REF)
    source.values[NAME] = "v2"

    assert store.get(REF, stale=old).reveal() == "v2"
    assert store.get(REF).reveal() == "v2"
    assert source.fetches[NAME] == 2


def test_callers_that_saw_the_same_stale_value_share_the_refresh(store: SecretStore, source: FakeSource) -> None:
    old = store.get(REF)
    source.values[NAME] = "v2"

    first = store.get(REF, stale=old)
    second = store.get(REF, stale=old)

    assert first.reveal() == second.reveal() == "v2"
    assert source.fetches[NAME] == 2


def test_a_value_refused_again_after_a_refresh_is_fetched_again(store: SecretStore, source: FakeSource) -> None:
    old = store.get(REF)
    again = store.get(REF, stale=old)  # the source still has v1: the same value comes back

    store.get(REF, stale=again)

    assert source.fetches[NAME] == 3


def test_a_forced_refresh_during_an_outage_is_503_not_the_refused_value(store: SecretStore, source: FakeSource) -> None:
    old = store.get(REF)
    source.outage = SourceUnavailable("down")

    with pytest.raises(SecretUnavailable):
        store.get(REF, stale=old)
    assert store.get(REF) == old  # others still get the cached value meanwhile


# --- concurrency ------------------------------------------------------------------------------------


@contextmanager
def held(source: FakeSource) -> Iterator[threading.Event]:
    source.gate = threading.Event()
    try:
        yield source.gate
    finally:
        source.gate.set()


def run_concurrently(
    count: int, call: Callable[[], SecretValue], store: SecretStore, source: FakeSource
) -> list[object]:
    """`count` callers: the first one's fetch is held until all others wait for it, then released."""
    results: list[object] = [None] * count

    def worker(index: int) -> None:
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error

    with held(source) as gate:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
        threads[0].start()
        assert source.arrived.wait(5)
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: store.waiting(REF) == count - 1)
        gate.set()
        for thread in threads:
            thread.join(5)
    return results


def test_concurrent_cold_callers_share_one_fetch(store: SecretStore, source: FakeSource) -> None:
    results = run_concurrently(8, lambda: store.get(REF), store, source)

    assert [r.reveal() for r in results if isinstance(r, SecretValue)] == ["v1"] * 8
    assert source.fetches[NAME] == 1


def test_concurrent_forced_refreshes_share_one_fetch(store: SecretStore, source: FakeSource) -> None:
    old = store.get(REF)
    source.values[NAME] = "v2"
    source.arrived.clear()

    results = run_concurrently(8, lambda: store.get(REF, stale=old), store, source)

    assert [r.reveal() for r in results if isinstance(r, SecretValue)] == ["v2"] * 8
    assert source.fetches[NAME] == 2


def test_a_failed_shared_fetch_answers_every_waiter(store: SecretStore, source: FakeSource) -> None:
    source.outage = SourceUnavailable("down")

    results = run_concurrently(4, lambda: store.get(REF), store, source)

    assert all(isinstance(r, SecretUnavailable) for r in results)
    assert source.fetches[NAME] == 1
    assert store.waiting(REF) == 0


# --- the environment as a source --------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"SMTP_PASSWORD": ""}, {"SMTP_PASSWORD": "  "}])
def test_an_unset_or_empty_app_setting_is_missing_and_named(env: dict[str, str]) -> None:
    secrets = secrets_from(env)

    with pytest.raises(SecretMissing, match="app setting SMTP_PASSWORD is missing"):
        secrets.smtp_password()


def test_an_unresolved_key_vault_reference_is_not_used_as_the_secret() -> None:
    env = {"SMTP_PASSWORD": "@Microsoft.KeyVault(VaultName=kv;SecretName=smtp-password)"}
    secrets = secrets_from(env)

    with pytest.raises(SecretUnavailable, match="could not resolve its Key Vault reference"):
        secrets.smtp_password()


def test_every_accessor_reads_its_own_app_setting() -> None:
    env = {
        "ECONOMIC_APP_SECRET_TOKEN": "app-token",
        "ECONOMIC_GRANT_TOKEN_ACME": "acme-grant",
        "ECONOMIC_GRANT_TOKEN__IFBWG===": "unused",
        "SMTP_PASSWORD": "mail",
        "API_KEY_PEPPER": "p" * 32,
    }
    secrets = secrets_from(env)

    assert secrets.economic_app_secret_token().reveal() == "app-token"
    assert secrets.economic_grant_token("acme").reveal() == "acme-grant"
    assert secrets.smtp_password().reveal() == "mail"
    assert secrets.api_key_pepper().reveal() == "p" * 32
    with pytest.raises(SecretMissing, match="ECONOMIC_GRANT_TOKEN_GLOBEX"):
        secrets.economic_grant_token("globex")


# --- names ------------------------------------------------------------------------------------------


def test_fixed_secret_names() -> None:
    assert [(r.key_vault_name, r.setting_name) for r in (ECONOMIC_APP_SECRET_TOKEN, SMTP_PASSWORD, API_KEY_PEPPER)] == [
        ("economic-app-secret-token", "ECONOMIC_APP_SECRET_TOKEN"),
        ("smtp-password", "SMTP_PASSWORD"),
        ("api-key-pepper", "API_KEY_PEPPER"),
    ]


@pytest.mark.parametrize(
    ("tenant", "key_vault_name", "setting_name"),
    [
        ("acme", "economic-grant-token-acme", "ECONOMIC_GRANT_TOKEN_ACME"),
        ("acme-gmbh-2", "economic-grant-token-acme-gmbh-2", "ECONOMIC_GRANT_TOKEN_ACME_GMBH_2"),
        ("a-b", "economic-grant-token-a-b", "ECONOMIC_GRANT_TOKEN_A_B"),
        ("a_b", "economic-grant-token--mfpwe", "ECONOMIC_GRANT_TOKEN__MFPWE"),
        ("A-b", "economic-grant-token--iewwe", "ECONOMIC_GRANT_TOKEN__IEWWE"),
    ],
)
def test_grant_token_names_read_plainly_for_plain_tenant_ids(
    tenant: str, key_vault_name: str, setting_name: str
) -> None:
    ref = economic_grant_token_ref(tenant)

    assert (ref.key_vault_name, ref.setting_name) == (key_vault_name, setting_name)


@given(TENANTS)
def test_every_grant_token_name_is_valid_in_key_vault_and_as_a_linux_app_setting(tenant: str) -> None:
    ref = economic_grant_token_ref(tenant)

    assert KEY_VAULT_NAME.fullmatch(ref.key_vault_name)
    assert LINUX_SETTING_NAME.fullmatch(ref.setting_name)


@given(TENANTS, TENANTS)
def test_two_tenants_never_share_a_grant_token_even_ignoring_case(first: str, second: str) -> None:
    a, b = economic_grant_token_ref(first), economic_grant_token_ref(second)

    if first != second:
        assert a.key_vault_name.lower() != b.key_vault_name.lower()
        assert a.setting_name.upper() != b.setting_name.upper()


@given(TENANTS)
def test_tenants_that_differ_only_in_case_or_hyphen_versus_underscore_never_share_a_grant_token(tenant: str) -> None:
    variants = {tenant, tenant.upper(), tenant.lower(), tenant.swapcase()}
    variants |= {v.replace("-", "_") for v in variants} | {v.replace("_", "-") for v in variants}
    variants = {v for v in variants if v[0].isalnum()}

    assert len({economic_grant_token_ref(v).key_vault_name.lower() for v in variants}) == len(variants)
    assert len({economic_grant_token_ref(v).setting_name.upper() for v in variants}) == len(variants)


@given(TENANTS)
def test_no_grant_token_name_is_another_secrets_name(tenant: str) -> None:
    ref = economic_grant_token_ref(tenant)

    for fixed in (ECONOMIC_APP_SECRET_TOKEN, SMTP_PASSWORD, API_KEY_PEPPER):
        assert ref.key_vault_name.lower() != fixed.key_vault_name.lower()
        assert ref.setting_name.upper() != fixed.setting_name.upper()


@pytest.mark.parametrize("tenant", ["", "-a", "a b", "a" * 65, "ä"])
def test_a_grant_token_for_an_invalid_tenant_id_is_refused(tenant: str) -> None:
    with pytest.raises(ValueError, match="tenant"):
        economic_grant_token_ref(tenant)


# --- values never show ------------------------------------------------------------------------------


def test_a_secret_value_never_shows_itself() -> None:
    value = SecretValue("hunter2-correct-horse")

    for shown in (repr(value), str(value), f"{value}", "%s" % (value,), repr([value]), repr({"v": value})):  # noqa: UP031
        assert "hunter2" not in shown
    with pytest.raises(TypeError):
        json.dumps({"v": value})
    with pytest.raises(TypeError):
        pickle.dumps(value)
    assert copy.deepcopy({"v": value})["v"] == value


def test_secret_values_compare_by_content() -> None:
    assert SecretValue("a") == SecretValue("a")
    assert SecretValue("a") != SecretValue("b")
    with pytest.raises(TypeError):
        hash(SecretValue("a"))


def test_a_refresh_for_a_value_already_replaced_is_an_ordinary_read(
    store: SecretStore, source: FakeSource, clock: FakeClock
) -> None:
    old = store.get(REF)
    source.values[NAME] = "v2"
    store.get(REF, stale=old)
    source.values[NAME] = "v3"
    clock.now += TTL

    assert store.get(REF, stale=old).reveal() == "v3"  # v2 has expired meanwhile: read again
    source.outage = SourceUnavailable("down")
    clock.now += TTL
    assert store.get(REF, stale=old).reveal() == "v3"  # and, like any read, served stale in an outage
