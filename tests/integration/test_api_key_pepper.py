"""The API key pepper as the app uses it: over HTTP through the local host, against Azurite."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import requests

from devhost.processes import Azurite, DevHost, run_devhost
from shared.container import TABLES, build
from shared.platform.keys import CONNECTOR_RIGHTS, ApiKey
from shared.repositories.keys import TableKeyRepository
from tests.support.app import NOTE, TEST_PEPPER, Client, app_env_for, manage

NO_SETTINGS_FILE = ("--settings", "/nonexistent/local.settings.json")
"""The developer's local.settings.json must not supply the pepper these tests leave out."""


def repository(env: dict[str, str]) -> TableKeyRepository:
    return TableKeyRepository(build(env).storage.table_ref(TABLES["keys"]))


def store_key_as_before_the_pepper(env: dict[str, str], tenant: str = "legacy") -> tuple[ApiKey, str]:
    """A key written the way the code before this change wrote it: plain SHA-256, "sha256"."""
    key_id = secrets.token_hex(8)
    raw = f"ib_{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        key_id=key_id,
        tenant=tenant,
        name="made before the upgrade",
        rights=frozenset(CONNECTOR_RIGHTS),
        limit=100,
        period_seconds=60,
        digest=hashlib.sha256(raw.encode()).hexdigest(),
        hash_algorithm="sha256",
        created_at=datetime.now(UTC),
    )
    repository(env).add(key)
    return key, raw


@contextmanager
def host_without(azurite: Azurite, **env: str) -> Iterator[DevHost]:
    app_env = app_env_for(azurite)
    app_env.pop("API_KEY_PEPPER")
    app_env.update(env)
    with run_devhost(env=app_env, extra_args=NO_SETTINGS_FILE) as host:
        yield host


def test_a_key_made_before_the_pepper_still_works_and_is_restored_peppered(
    host: DevHost, app_env: dict[str, str]
) -> None:
    key, raw = store_key_as_before_the_pepper(app_env)
    client = Client(host.base_url, raw)

    assert client.post("CreateInvoicePositionNote", NOTE).status_code == 200

    stored = repository(app_env).get(key.key_id)
    assert stored is not None
    assert stored.hash_algorithm == "hmac-sha256"
    assert stored.digest == hmac.new(TEST_PEPPER.encode(), raw.encode(), hashlib.sha256).hexdigest()
    assert client.post("CreateInvoicePositionNote", NOTE).status_code == 200


def test_restoring_a_key_peppered_keeps_a_revocation_written_meanwhile(app_env: dict[str, str]) -> None:
    key, _ = store_key_as_before_the_pepper(app_env)
    repo = repository(app_env)
    repo.save(replace(key, revoked_at=datetime.now(UTC)))  # another instance revokes it

    repo.update_digest(key.key_id, "ab" * 32, "hmac-sha256")  # this one, having read it before, upgrades it

    stored = repo.get(key.key_id)
    assert stored is not None
    assert (stored.digest, stored.hash_algorithm) == ("ab" * 32, "hmac-sha256")
    assert stored.revoked_at is not None


def test_without_the_pepper_keyed_calls_are_503_naming_the_setting(azurite: Azurite) -> None:
    with host_without(azurite) as host:
        response = Client(host.base_url, "ib_0123456789abcdef_" + "a" * 43).post("CreateInvoicePositionNote", NOTE)

    assert response.status_code == 503
    assert response.json()["Success"] is False
    assert "app setting API_KEY_PEPPER is missing" in response.json()["Message"]
    assert response.headers["Retry-After"].isdigit()


def test_without_the_pepper_health_is_503_naming_it(azurite: Azurite) -> None:
    with host_without(azurite) as host:
        response = requests.get(f"{host.base_url}/health", timeout=30)

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "API_KEY_PEPPER" in response.json()["reason"]


def test_a_pepper_too_short_is_503_and_shows_nowhere(azurite: Azurite) -> None:
    short = "Sh0rt-Pepper-Value"
    with host_without(azurite, API_KEY_PEPPER=short) as host:
        response = Client(host.base_url, "ib_0123456789abcdef_" + "a" * 43).post("CreateInvoicePositionNote", NOTE)
        log = host.log_text()

    assert response.status_code == 503
    assert "API_KEY_PEPPER is too short" in response.text
    assert short not in response.text
    assert "CreateInvoicePositionNote -> 503" in log  # the call was logged
    assert short not in log


def test_the_cli_without_a_pepper_names_the_setting_and_creates_nothing(azurite: Azurite) -> None:
    env = app_env_for(azurite, API_KEY_PEPPER="")

    created = manage(env, "keys", "create", "--tenant", "no-pepper")

    assert created.returncode == 2
    assert "API_KEY_PEPPER" in created.stderr
    assert manage(env, "keys", "list", "--tenant", "no-pepper").stdout == "No keys for tenant no-pepper.\n"
