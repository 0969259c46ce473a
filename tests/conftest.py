"""Fixtures shared by the integration tests: a real Azurite and the app under the local host."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.functions import FunctionTable, build_function_table
from devhost.processes import Azurite, DevHost, run_azurite, run_devhost
from shared.container import build
from shared.platform.keys import CONNECTOR_RIGHTS

REPO = Path(__file__).resolve().parent.parent
TEST_PEPPER = "test-only-pepper-0123456789abcdef-not-a-secret"


@pytest.fixture(scope="session")
def function_table() -> FunctionTable:
    """The app's functions as the local host indexes them. Indexed once: `FunctionApp.get_functions()`
    refuses a second call in the same process (it sees its own functions as duplicates)."""
    from function_app import app

    return build_function_table(app, route_prefix="", environ={})


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with run_azurite() as instance:
        yield instance


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


@pytest.fixture(scope="session")
def app_env(azurite: Azurite) -> dict[str, str]:
    return app_env_for(azurite)


@pytest.fixture(scope="session")
def host(app_env: dict[str, str]) -> Iterator[DevHost]:
    with run_devhost(env=app_env) as running:
        yield running


KeyMaker = Callable[..., str]


@pytest.fixture(scope="session")
def make_key(app_env: dict[str, str]) -> KeyMaker:
    """Creates a key the way an administrator would (same tables as the host) and returns it."""
    keys = build(app_env).keys

    def make(tenant: str | None = None, rights: Any = CONNECTOR_RIGHTS, **kwargs: Any) -> str:
        _, raw = keys.create(tenant or "tenant-" + uuid.uuid4().hex[:8], rights=rights, **kwargs)
        return raw

    return make


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


@pytest.fixture
def client(host: DevHost, make_key: KeyMaker) -> Client:
    return Client(host.base_url, make_key())
