"""What an operator sees: the management CLI, logs, and behaviour when storage is down."""

from __future__ import annotations

import socket
from pathlib import Path

import requests

from devhost.processes import Azurite, DevHost, run_devhost
from tests.support.app import NOTE, Client, KeyMaker, app_env_for, manage


def test_cli_creates_a_key_that_works_lists_it_without_the_secret_and_revokes_it(
    host: DevHost, app_env: dict[str, str]
) -> None:
    created = manage(app_env, "keys", "create", "--tenant", "cli-tenant", "--name", "Dispatch flow", "--limit", "50")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]

    assert Client(host.base_url, key).post("CreateInvoicePositionNote", NOTE).status_code == 200

    listed = manage(app_env, "keys", "list", "--tenant", "cli-tenant")
    assert listed.returncode == 0
    assert key_id in listed.stdout
    assert "limit=50/60s" in listed.stdout
    assert "Dispatch flow" in listed.stdout
    assert key not in listed.stdout

    revoked = manage(app_env, "keys", "revoke", key_id)
    assert revoked.returncode == 0
    assert "revoked" in revoked.stdout


def test_cli_refuses_bad_input_naming_the_field(app_env: dict[str, str]) -> None:
    result = manage(app_env, "keys", "create", "--tenant", "bad tenant!")

    assert result.returncode == 2
    assert "tenant" in result.stderr


def test_api_key_never_appears_in_the_host_log(host: DevHost, make_key: KeyMaker) -> None:
    key = make_key(limit=2, period_seconds=60)
    client = Client(host.base_url, key)

    client.post("CreateInvoicePositionNote", NOTE)  # success
    client.post("CreateInvoicePositionNote", {"dateFrom": "nonsense"})  # 400
    client.post("CreateInvoicePositionNote", NOTE)  # 429 after the limit
    client.post("CreateInvoicePositionNote", NOTE)
    requests.post(f"{host.base_url}/ApiInvoice/Nope", params={"apikey": key}, timeout=30)  # 404
    Client(host.base_url, key[:-1] + "Z").post("CreateInvoicePositionNote", NOTE)  # 401, a near miss

    log = host.log_text()
    secret = key.split("_", 2)[2]
    assert "CreateInvoicePositionNote" in log  # the log did record these calls
    assert secret not in log
    assert secret[:-1] not in log
    assert "apikey=***" in log


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_storage_outage_gives_503_with_a_reason_never_500(azurite: Azurite, tmp_path: Path) -> None:
    port = _dead_port()
    dead = azurite.connection_string.replace(f":{azurite.table_port}/", f":{port}/")
    env = app_env_for(azurite, AzureWebJobsStorage=dead)

    with run_devhost(env=env) as down:
        health = requests.get(f"{down.base_url}/health", timeout=60)
        create = Client(down.base_url, "ib_0123456789abcdef_" + "a" * 43).post("CreateInvoicePositionNote", NOTE)

    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert "unreachable" in health.json()["reason"]
    assert "AccountKey" not in health.text
    assert create.status_code == 503
    assert create.json()["Success"] is False
    assert "Retry-After" in create.headers
