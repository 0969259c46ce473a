"""Fixtures shared by the integration tests: a real Azurite and the app under the local host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devhost.functions import FunctionTable, build_function_table
from devhost.processes import Azurite, DevHost, run_azurite, run_devhost
from shared.container import build
from shared.platform.keys import CONNECTOR_RIGHTS
from tests.support.app import Client, KeyMaker, app_env_for


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


@pytest.fixture(scope="session")
def app_env(azurite: Azurite) -> dict[str, str]:
    return app_env_for(azurite)


@pytest.fixture(scope="session")
def host(app_env: dict[str, str]) -> Iterator[DevHost]:
    with run_devhost(env=app_env) as running:
        yield running


@pytest.fixture(scope="session")
def make_key(app_env: dict[str, str]) -> KeyMaker:
    """Creates a key the way an administrator would (same tables as the host) and returns it."""
    keys = build(app_env).keys

    def make(tenant: str | None = None, rights: Any = CONNECTOR_RIGHTS, **kwargs: Any) -> str:
        _, raw = keys.create(tenant or "tenant-" + uuid.uuid4().hex[:8], rights=rights, **kwargs)
        return raw

    return make


@pytest.fixture
def client(host: DevHost, make_key: KeyMaker) -> Client:
    return Client(host.base_url, make_key())
