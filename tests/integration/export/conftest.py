"""Fixtures of the export tests: their own Azurite (so no local host of another module takes their
queue messages), the e-conomic stand-in, and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devhost.processes import Azurite, run_azurite
from standins.economic import EconomicStandin
from standins.smtp import SmtpStandIn
from tests.support.export import export_env
from tests.support.reference import economic_schema_dir


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    with run_azurite() as instance:
        yield instance


@pytest.fixture(scope="module")
def economic() -> Iterator[EconomicStandin]:
    with EconomicStandin(schema_dir=economic_schema_dir()) as standin:
        yield standin


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    with SmtpStandIn() as server:
        yield server


@pytest.fixture
def env(azurite: Azurite, economic: EconomicStandin, smtp: SmtpStandIn) -> dict[str, str]:
    economic.clear_failures()
    return export_env(azurite, economic, smtp)
