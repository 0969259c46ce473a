"""`python -m shared.manage secrets names|check`: what an operator runs to set up and verify secrets."""

from __future__ import annotations

from devhost.processes import Azurite
from tests.support.app import TEST_PEPPER, app_env_for, manage


def test_names_prints_the_key_vault_and_app_setting_name_of_each_secret(azurite: Azurite) -> None:
    result = manage(app_env_for(azurite), "secrets", "names", "--tenant", "acme", "--tenant", "Acme_GmbH")

    assert result.returncode == 0, result.stderr
    rows = [line.split()[:2] for line in result.stdout.splitlines()]
    assert rows == [
        ["economic-app-secret-token", "ECONOMIC_APP_SECRET_TOKEN"],
        ["smtp-password", "SMTP_PASSWORD"],
        ["api-key-pepper", "API_KEY_PEPPER"],
        ["economic-grant-token-acme", "ECONOMIC_GRANT_TOKEN_ACME"],
        ["economic-grant-token--ifrw2zk7i5wwesa", "ECONOMIC_GRANT_TOKEN__IFRW2ZK7I5WWESA"],
    ]


def test_check_reads_every_secret_and_says_which_are_missing_without_printing_values(azurite: Azurite) -> None:
    env = app_env_for(azurite, SMTP_PASSWORD="Mail-Pa55word-value", ECONOMIC_GRANT_TOKEN_ACME="Grant-T0ken-value")

    result = manage(env, "secrets", "check", "--tenant", "acme")

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "missing  Not configured: app setting ECONOMIC_APP_SECRET_TOKEN is missing; it is needed to call e-conomic.",
        "ok       app setting SMTP_PASSWORD",
        "ok       app setting API_KEY_PEPPER",
        "ok       app setting ECONOMIC_GRANT_TOKEN_ACME",
    ]
    for value in ("Mail-Pa55word-value", "Grant-T0ken-value", TEST_PEPPER):
        assert value not in result.stdout + result.stderr
