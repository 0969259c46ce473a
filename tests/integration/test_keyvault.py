"""Secrets from Key Vault: the real `SecretClient` over HTTPS against the stand-in in
standins/keyvault.py, behind the app's own cache. Time is a fake monotonic clock; no test sleeps."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.keyvault.secrets import SecretClient

from shared.adapters.keyvault import KeyVaultSource
from shared.container import build
from shared.errors import DomainError
from shared.platform.secrets import (
    API_KEY_PEPPER,
    ECONOMIC_APP_SECRET_TOKEN,
    SMTP_PASSWORD,
    SecretMissing,
    SecretRef,
    Secrets,
    SecretStore,
    SecretUnavailable,
    SecretValue,
    economic_grant_token_ref,
)
from shared.web.status import error_body, error_response, http_status
from standins.keyvault import SCOPE, TENANT_ID, KeyVaultStandIn, StaticCredential, make_certificate
from tests.support.secret_store import FakeClock, wait_until

TTL = 3600.0
MAX_STALENESS = 86400.0
NAME = SMTP_PASSWORD.key_vault_name


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("keyvault"))


@pytest.fixture
def vault(certificate: tuple[Path, Path]) -> Iterator[KeyVaultStandIn]:
    standin = KeyVaultStandIn(*certificate).start()
    yield standin
    standin.stop()


@pytest.fixture
def credential() -> StaticCredential:
    return StaticCredential()


def source_for(vault: KeyVaultStandIn, credential: StaticCredential) -> KeyVaultSource:
    # verify_challenge_resource=False: the challenge names https://vault.azure.net, the stand-in is 127.0.0.1.
    return KeyVaultSource.connect(
        vault.url, credential, verify_challenge_resource=False, connection_verify=str(vault.certificate)
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(vault: KeyVaultStandIn, credential: StaticCredential, clock: FakeClock) -> SecretStore:
    return SecretStore(source_for(vault, credential), ttl=TTL, max_staleness=MAX_STALENESS, clock=clock)


@pytest.fixture
def secrets(store: SecretStore) -> Secrets:
    return Secrets(store)


# --- reading and caching ----------------------------------------------------------------------------


def test_cold_fetch_answers_the_bearer_challenge_then_reads_with_the_token(
    vault: KeyVaultStandIn, credential: StaticCredential, secrets: Secrets
) -> None:
    vault.set_secret(NAME, "mail-password-1")

    assert secrets.smtp_password().reveal() == "mail-password-1"

    assert vault.challenges() == 1
    assert vault.reads(NAME) == 1
    assert [s.query["api-version"] for s in vault.seen if s.authorized] == [
        [SecretClient(vault.url, credential).api_version]
    ]
    assert credential.requests == [((SCOPE,), TENANT_ID)]


def test_a_cached_secret_is_not_read_again_within_the_ttl(
    vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    secrets.smtp_password()
    vault.set_secret(NAME, "mail-password-2")
    clock.now += TTL - 1

    assert secrets.smtp_password().reveal() == "mail-password-1"
    assert vault.reads(NAME) == 1


def test_after_the_ttl_the_latest_version_is_read(vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock) -> None:
    vault.set_secret(NAME, "mail-password-1")
    secrets.smtp_password()
    vault.set_secret(NAME, "mail-password-2")
    clock.now += TTL

    assert secrets.smtp_password().reveal() == "mail-password-2"
    assert vault.reads(NAME) == 2


def test_a_secret_missing_from_the_vault_is_503_naming_it(vault: KeyVaultStandIn, secrets: Secrets) -> None:
    with pytest.raises(SecretMissing) as caught:
        secrets.smtp_password()

    assert http_status(caught.value) == 503
    assert "Key Vault secret smtp-password is missing" in caught.value.message
    assert vault.reads(NAME) == 1  # Key Vault's 404 SecretNotFound is an answer, not an outage: no retry


def test_the_stand_in_serves_a_named_version_as_key_vault_does(
    vault: KeyVaultStandIn, credential: StaticCredential
) -> None:
    first = vault.set_secret(NAME, "mail-password-1")
    vault.set_secret(NAME, "mail-password-2")
    client = SecretClient(
        vault.url, credential, verify_challenge_resource=False, connection_verify=str(vault.certificate)
    )

    assert client.get_secret(NAME, first).value == "mail-password-1"
    assert client.get_secret(NAME).value == "mail-password-2"
    assert client.get_secret(NAME).properties.version != first


# --- outages ----------------------------------------------------------------------------------------


def test_vault_unreachable_within_the_staleness_limit_serves_the_cached_value(
    vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    secrets.smtp_password()
    vault.stop()
    clock.now += MAX_STALENESS - 1

    assert secrets.smtp_password().reveal() == "mail-password-1"


def test_vault_unreachable_beyond_the_staleness_limit_is_503_naming_the_secret(
    vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    secrets.smtp_password()
    vault.stop()
    clock.now += MAX_STALENESS

    with pytest.raises(SecretUnavailable) as caught:
        secrets.smtp_password()

    assert http_status(caught.value) == 503
    assert caught.value.message == (
        "Secret unavailable: Key Vault secret smtp-password cannot be read right now (Key Vault is unreachable); "
        "retry shortly."
    )
    assert error_response(caught.value).headers["Retry-After"] == "1"


def test_vault_unreachable_on_a_cold_start_is_503_and_the_vault_is_read_once_it_is_back(
    vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    vault.stop()

    with pytest.raises(SecretUnavailable):
        secrets.smtp_password()
    vault.start()
    clock.now += 1

    assert secrets.smtp_password().reveal() == "mail-password-1"


def test_throttled_by_the_vault_the_cached_value_serves_and_retry_after_is_respected(
    vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    secrets.smtp_password()
    vault.fail_with(429, retry_after=120)  # the SDK must not sleep on this inside a request
    clock.now += TTL

    assert secrets.smtp_password().reveal() == "mail-password-1"
    assert vault.reads(NAME) == 2  # not retried within the request
    clock.now += 119
    secrets.smtp_password()
    assert vault.reads(NAME) == 2  # Key Vault asked for 120 s of quiet
    vault.recover()
    vault.set_secret(NAME, "mail-password-2")
    clock.now += 1
    assert secrets.smtp_password().reveal() == "mail-password-2"


def test_throttled_without_a_cached_value_is_503_with_key_vaults_retry_after(
    vault: KeyVaultStandIn, secrets: Secrets
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    vault.fail_with(429, retry_after=12)

    with pytest.raises(SecretUnavailable) as caught:
        secrets.smtp_password()

    assert "throttling" in caught.value.message
    assert error_response(caught.value).headers["Retry-After"] == "12"


def test_a_vault_error_is_retried_once_then_the_cached_value_serves(
    vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock
) -> None:
    vault.set_secret(NAME, "mail-password-1")
    secrets.smtp_password()
    vault.fail_with(500)
    clock.now += TTL

    assert secrets.smtp_password().reveal() == "mail-password-1"
    assert vault.reads(NAME) == 3  # one read, then one fetch retried once by the SDK
    clock.now += MAX_STALENESS
    with pytest.raises(SecretUnavailable, match=r"Key Vault answered 500"):
        secrets.smtp_password()


# --- forced refresh ---------------------------------------------------------------------------------


def test_a_token_refused_by_e_conomic_is_refreshed_once_from_the_vault(
    vault: KeyVaultStandIn, secrets: Secrets
) -> None:
    name = economic_grant_token_ref("acme").key_vault_name
    vault.set_secret(name, "grant-1")
    old = secrets.economic_grant_token("acme")
    vault.set_secret(name, "grant-2")  # rotated at the source; e-conomic now answers 401 for grant-1

    assert secrets.economic_grant_token("acme", stale=old).reveal() == "grant-2"
    assert secrets.economic_grant_token("acme", stale=old).reveal() == "grant-2"
    assert vault.reads(name) == 2


def test_concurrent_refreshes_share_one_read_of_the_vault(
    vault: KeyVaultStandIn, store: SecretStore, secrets: Secrets
) -> None:
    ref = ECONOMIC_APP_SECRET_TOKEN
    vault.set_secret(ref.key_vault_name, "app-token-1")
    old = secrets.economic_app_secret_token()
    vault.set_secret(ref.key_vault_name, "app-token-2")
    results: list[str] = []

    def refresh() -> None:
        results.append(secrets.economic_app_secret_token(stale=old).reveal())

    vault.hold()
    threads = [threading.Thread(target=refresh) for _ in range(8)]
    threads[0].start()
    assert vault.arrived.wait(5)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: store.waiting(ref) == 7)
    vault.release()
    for thread in threads:
        thread.join(10)

    assert results == ["app-token-2"] * 8
    assert vault.reads(ref.key_vault_name) == 2


# --- secret values never show -----------------------------------------------------------------------

KINDS: dict[str, tuple[SecretRef, Callable[[Secrets, SecretValue | None], SecretValue]]] = {
    "e-conomic app secret token": (
        ECONOMIC_APP_SECRET_TOKEN,
        lambda s, stale: s.economic_app_secret_token(stale=stale),
    ),
    "e-conomic agreement grant token": (
        economic_grant_token_ref("Acme_GmbH"),
        lambda s, stale: s.economic_grant_token("Acme_GmbH", stale=stale),
    ),
    "SMTP password": (SMTP_PASSWORD, lambda s, stale: s.smtp_password(stale=stale)),
    "API key pepper": (API_KEY_PEPPER, lambda s, stale: s.api_key_pepper()),
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_secret_value_never_appears_in_logs_or_errors(
    kind: str, vault: KeyVaultStandIn, secrets: Secrets, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ref, read = KINDS[kind]
    value = f"S3cret-{kind.replace(' ', '-')}-value-0123456789abcdef"
    caplog.set_level(logging.DEBUG)  # everything, the Azure SDK's request logging included
    shown: list[str] = []

    def attempt() -> None:
        try:
            got = read(secrets, None)
            shown.extend([repr(got), str(got), f"{got}"])
        except DomainError as error:
            shown.extend([str(error), repr(error), json.dumps(error_body(error)), repr(error_response(error).headers)])

    vault.set_secret(ref.key_vault_name, value)
    attempt()  # cold fetch
    vault.set_secret(ref.key_vault_name, value + "-rotated")
    shown.append(repr(read(secrets, SecretValue(value))))  # forced refresh
    for failure in (429, 500):
        vault.fail_with(failure, retry_after=1)
        clock.now += TTL
        attempt()  # served stale
        clock.now += MAX_STALENESS
        attempt()  # 503
    vault.recover()
    vault.stop()
    clock.now += MAX_STALENESS
    attempt()  # unreachable: 503
    vault.start()
    vault.delete_secret(ref.key_vault_name)
    clock.now += MAX_STALENESS
    attempt()  # missing: 503

    assert vault.reads(ref.key_vault_name) >= 6
    assert any(ref.key_vault_name in text for text in shown)  # the errors did name the secret
    for text in [caplog.text, *shown]:
        assert "S3cret" not in text


# --- choosing the source ----------------------------------------------------------------------------

STORAGE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_without_key_vault_url_secrets_come_from_app_settings() -> None:
    container = build({**STORAGE, "SMTP_PASSWORD": "from-settings"})

    assert container.secrets.smtp_password().reveal() == "from-settings"
    with pytest.raises(SecretMissing, match="app setting API_KEY_PEPPER"):
        container.secrets.api_key_pepper()


def test_with_key_vault_url_secrets_come_from_the_vault_and_building_needs_no_network() -> None:
    container = build({**STORAGE, "KEY_VAULT_URL": "https://invoice-bridge-kv.vault.azure.net/", "SMTP_PASSWORD": "x"})

    assert container.secrets.store.where(SMTP_PASSWORD) == "Key Vault secret smtp-password"
    assert isinstance(container.secrets.store.source, KeyVaultSource)
