"""Settings and storage connections as an operator writes them in app settings."""

from __future__ import annotations

import pytest

from shared.adapters.storage import StorageConnection
from shared.config import ConfigError, Settings
from shared.connector.schemas import PositionNoteIn
from shared.validation import validate


def test_defaults_match_the_documented_ones() -> None:
    settings = Settings.from_env({})

    assert settings.default_timezone.key == "Europe/Berlin"
    assert (settings.throttle_limit, settings.throttle_period_seconds) == (100, 60)
    assert settings.idempotency_ttl_seconds == 24 * 3600
    assert settings.max_body_bytes == 1024 * 1024


def test_default_timezone_setting_changes_how_local_times_are_read() -> None:
    tz = Settings.from_env({"DEFAULT_TIMEZONE": "America/New_York"}).default_timezone
    body = {"dateFrom": "2024-05-02T08:00", "dateTo": "2024-05-02T09:00", "noInvoice": False, "extraCharge": False}

    note = validate(PositionNoteIn, body, tz)

    assert note.dateFrom.isoformat() == "2024-05-02T08:00:00-04:00"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DEFAULT_TIMEZONE": "Mars/Olympus"}, "DEFAULT_TIMEZONE"),
        ({"THROTTLE_LIMIT": "many"}, "THROTTLE_LIMIT"),
        ({"THROTTLE_PERIOD_SECONDS": "0"}, "THROTTLE_PERIOD_SECONDS"),
        ({"TABLE_PREFIX": "bad-prefix"}, "TABLE_PREFIX"),
    ],
)
def test_a_bad_setting_is_named_in_the_error(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        Settings.from_env(env)


def test_connection_string_is_used_as_is() -> None:
    conn = StorageConnection.from_env("AzureWebJobsStorage", {"AzureWebJobsStorage": "UseThis=1"})

    assert conn.connection_string == "UseThis=1"


def test_account_name_selects_identity_based_endpoints() -> None:
    conn = StorageConnection.from_env(
        "AzureWebJobsStorage",
        {"AzureWebJobsStorage__accountName": "invoicebridge", "AzureWebJobsStorage__clientId": "abc"},
    )

    assert conn.connection_string is None
    assert conn.table_url == "https://invoicebridge.table.core.windows.net"
    assert conn.queue_url == "https://invoicebridge.queue.core.windows.net"
    assert conn.client_id == "abc"


def test_explicit_service_uris_win_over_the_account_name() -> None:
    conn = StorageConnection.from_env(
        "Data",
        {"Data__accountName": "acct", "Data__tableServiceUri": "https://acct.table.core.chinacloudapi.cn"},
    )

    assert conn.table_url == "https://acct.table.core.chinacloudapi.cn"
    assert conn.queue_url == "https://acct.queue.core.windows.net"


def test_missing_connection_names_the_settings_to_set() -> None:
    with pytest.raises(ConfigError, match="AzureWebJobsStorage__accountName"):
        StorageConnection.from_env("AzureWebJobsStorage", {})


def test_secret_settings_default_to_key_vault_off_an_hours_cache_and_a_days_staleness() -> None:
    settings = Settings.from_env({})

    assert settings.key_vault_url is None
    assert (settings.secret_cache_seconds, settings.secret_max_staleness_seconds) == (3600, 86400)


@pytest.mark.parametrize(
    "url", ["https://invoice-bridge.vault.azure.net/", "https://kv.vault.azure.cn", "https://127.0.0.1:8443/"]
)
def test_key_vault_url_accepts_a_vaults_https_url(url: str) -> None:
    assert Settings.from_env({"KEY_VAULT_URL": url}).key_vault_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://invoice-bridge.vault.azure.net/",
        "invoice-bridge.vault.azure.net",
        "https://",
        "https://invoice-bridge.vault.azure.net/secrets/api-key-pepper",
        "https://invoice-bridge.vault.azure.net/?api-version=7.5",
        "https://user:pw@invoice-bridge.vault.azure.net/",
        "https://invoice-bridge.vault.azure.net:99999/",
    ],
)
def test_a_key_vault_url_that_is_not_a_vaults_https_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"KEY_VAULT_URL": url})

    assert str(caught.value) == "setting KEY_VAULT_URL must be an https URL such as https://<vault>.vault.azure.net/"


def test_max_staleness_below_the_cache_time_is_refused() -> None:
    with pytest.raises(ConfigError, match="SECRET_MAX_STALENESS_SECONDS must be at least SECRET_CACHE_SECONDS"):
        Settings.from_env({"SECRET_CACHE_SECONDS": "600", "SECRET_MAX_STALENESS_SECONDS": "300"})


def test_a_cache_time_above_a_day_raises_the_default_staleness_with_it() -> None:
    settings = Settings.from_env({"SECRET_CACHE_SECONDS": "172800"})

    assert settings.secret_max_staleness_seconds == 172800


def test_invoicing_lease_defaults_to_five_minutes_and_must_be_positive() -> None:
    assert Settings.from_env({}).invoicing_lease_seconds == 300
    assert Settings.from_env({"INVOICING_LEASE_SECONDS": "60"}).invoicing_lease_seconds == 60
    with pytest.raises(ConfigError, match="INVOICING_LEASE_SECONDS"):
        Settings.from_env({"INVOICING_LEASE_SECONDS": "0"})
