"""The world the fuzzer runs against: its own Azurite, the e-conomic and SMTP stand-ins, the local
Functions host configured for both, one tenant with a little data, and a key that may do everything.

Its own Azurite (like the export tests; shared by the modules of tests/fuzz/) so that no other module's
host takes its queue messages, and e-conomic configured so that an operation calling e-conomic really
calls it: a 5xx then means a bug, not "e-conomic is not set up here"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from schemathesis.schemas import BaseSchema

from devhost.processes import Azurite, DevHost, run_azurite, run_devhost
from shared.invoicing.directory import Ticket
from shared.platform.keys import KNOWN_RIGHTS, MAX_LIMIT
from standins.economic import EconomicStandin
from standins.smtp import SmtpStandIn
from tests.support.export import World, export_env
from tests.support.reference import economic_schema_dir


@dataclass(frozen=True)
class Target:
    host: DevHost
    world: World
    key: str
    """Every right of KNOWN_RIGHTS, MAX_LIMIT calls a second: the throttle never answers the fuzzer."""


@pytest.fixture(scope="package")
def azurite() -> Iterator[Azurite]:
    with run_azurite() as instance:
        yield instance


@pytest.fixture(scope="package")
def target(azurite: Azurite) -> Iterator[Target]:
    with EconomicStandin(schema_dir=economic_schema_dir()) as economic, SmtpStandIn() as smtp:
        # Customers 1..2, contracts 101..102, October 2026 notes, open drafts, tenant settings, and an
        # e-conomic agreement whose grant token is in the host's settings; and ticket 4711 of customer 1.
        world = World(export_env(azurite, economic, smtp), economic, customers=2, notes=2)
        assert world.container.directory.import_entries(world.tenant, [("t", Ticket(4711, 1, 101))]) == []
        _, key = world.container.keys.create(
            world.tenant, name="fuzzer", rights=sorted(KNOWN_RIGHTS), limit=MAX_LIMIT, period_seconds=1
        )
        with run_devhost(env=world.env) as host:
            yield Target(host, world, key)


@pytest.fixture(scope="package")
def served_schema(target: Target) -> BaseSchema:
    """The document as the host serves it (GET /ApiInvoice/swagger.json, anonymous), pointing at it."""
    response = requests.get(f"{target.host.base_url}/ApiInvoice/swagger.json", timeout=30)
    response.raise_for_status()
    schema = schemathesis.openapi.from_dict(response.json())
    # The requests go where the served document's `host` and `schemes` say: this host.
    assert schema.declared_base_url == target.host.base_url + "/"
    schema.config.update(base_url=target.host.base_url)
    return schema
