"""The app as the integration tests drive it: the repository, the settings of a test app on Azurite,
a connector connection, the management CLI, and a position note to send."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from devhost.processes import Azurite

REPO = Path(__file__).resolve().parent.parent.parent
TEST_PEPPER = "test-only-pepper-0123456789abcdef-not-a-secret"


def app_env_for(azurite: Azurite, **overrides: str) -> dict[str, str]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        # A table prefix per test session: runs never see each other's data and need no clean-up.
        "TABLE_PREFIX": "t" + uuid.uuid4().hex[:10],
        "DEFAULT_TIMEZONE": "Europe/Berlin",
        "API_KEY_CACHE_SECONDS": "1",
        "API_KEY_PEPPER": TEST_PEPPER,
    }
    env.update(overrides)
    return env


KeyMaker = Callable[..., str]


class Client:
    """A connector connection: the instance URL plus the apikey query parameter, as Power Platform sends it."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()

    def post(
        self, action: str, body: Any = None, *, headers: dict[str, str] | None = None, data: bytes | None = None
    ) -> requests.Response:
        params = {"apikey": self.key} if self.key else {}
        return self.session.post(
            f"{self.base_url}/ApiInvoice/{action}",
            params=params,
            json=body if data is None else None,
            data=data,
            headers=headers,
            timeout=30,
        )

    def list(self, **body: Any) -> dict[str, Any]:
        request = {"Skip": 0, "PageSize": 100, "OrderByAsc": True, "OrderColumns": 6, "TakeAll": False, **body}
        response = self.post("GetServiceAssignmentsDispatcher", request)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["Result"]
        return result


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.manage", "--settings", "/nonexistent.json", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


NOTE = {
    "dateFrom": "2024-05-02T08:00:00",
    "dateTo": "2024-05-02T10:30:00",
    "pause": "00:15",
    "noInvoice": False,
    "extraCharge": True,
    "hint": "Patched the mail server",
    "username": "anna",
    "ticketID": 4711,
    "serviceContractID": 12,
}
