"""`python -m devhost.seed`: what a new user runs after `make run` to have something to invoice on the
workbench. Its key works, its customers are e-conomic's (the sandbox's stand-in numbers), and last
month invoices into one order per customer with one note listed as unresolved."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from devhost.seed import month_back
from shared.container import build
from tests.support.app import REPO


def test_the_seed_gives_a_working_key_and_a_month_to_invoice(app_env: dict[str, str]) -> None:
    env = {**app_env, "TABLE_PREFIX": app_env["TABLE_PREFIX"] + "seed"}
    done = subprocess.run(
        [sys.executable, "-m", "devhost.seed", "--tenant", "demo", "--settings", "/nonexistent.json"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    app = build(env)

    principal = app.keys.authenticate(key)
    assert principal.tenant == "demo"
    assert {"admin", "reseller"} <= principal.rights
    customers = app.directory.load("demo").customers
    assert {c.customer_id: c.accounting_system_id for c in customers.values()} == {1: 1, 2: 2, 3: 3}

    now = datetime.now(UTC)
    zone = app.settings.default_timezone
    run = app.invoicing.run("demo", month_back(now, zone, 1))
    assert sorted(h.customer.name for h in run.drafts) == ["Acme A/S", "Globex GmbH", "Initech Ltd"]
    assert [(u.field, u.reason) for u in run.unresolved] == [("ticketID", "ticket 9999 is not in the directory")]
    assert str(month_back(now, zone, 1)) in done.stdout
