"""`python -m shared.manage economic customers|sync`: the accounting sync from the command line, against
Azurite and the e-conomic stand-in."""

from __future__ import annotations

from shared.invoicing.directory import Customer
from standins.economic import EconomicStandin
from tests.support.app import manage
from tests.support.export import World


def test_customers_report_dry_run_import_and_a_second_import_that_changes_nothing(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=1)  # our customer 1 is linked to e-conomic customer 1
    world.agreement.customers[2]["email"] = "ap@globex.example"
    world.agreement.add_customer(7, "Umbrella Corp", email="ap@umbrella.example")
    args = ("economic", "customers", "--tenant", world.tenant)

    report = manage(world.env, *args)
    dry = manage(world.env, *args, "--import", "all", "--dry-run")
    after_dry = world.container.directory.load(world.tenant).customers

    assert report.returncode == 0, report.stderr
    assert "Globex GmbH" in report.stdout
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was changed." in dry.stdout
    assert sorted(after_dry) == [1]

    imported = manage(world.env, *args, "--import", "all")
    again = manage(world.env, *args, "--import", "all")

    assert imported.returncode == 0, imported.stderr
    customers = world.container.directory.load(world.tenant).customers
    assert sorted(customers) == [1, 2, 7]
    assert customers[2] == Customer(2, "Globex GmbH", 2, "ap@globex.example", "EUR")
    assert "Initech Ltd" in imported.stdout  # not imported: no e-mail in e-conomic, and it says so
    assert again.returncode == 0, again.stderr
    assert world.container.directory.load(world.tenant).customers == customers


def test_an_explicit_import_of_a_linked_customer_is_refused_and_changes_nothing(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=1)
    world.agreement.customers[2]["email"] = "ap@globex.example"

    refused = manage(world.env, "economic", "customers", "--tenant", world.tenant, "--import", "2,1")

    assert refused.returncode == 2
    assert "importNew[1]" in refused.stderr
    assert sorted(world.container.directory.load(world.tenant).customers) == [1]


def test_sync_prints_the_booked_invoice_numbers(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=1, notes=1)
    job = world.run(world.start()["jobId"])
    assert job.state == "succeeded"
    (draft,) = world.drafts
    invoice = world.agreement.book(world.headers()[draft].accounting["documentNumber"])

    synced = manage(world.env, "economic", "sync", "--tenant", world.tenant)

    assert synced.returncode == 0, synced.stderr
    assert f"draft {draft:>6} -> booked invoice {invoice['bookedInvoiceNumber']}" in synced.stdout
    assert "0 draft(s) still waiting" in synced.stdout


def test_sync_cli_says_when_a_flagged_draft_turns_up_in_e_conomic_again(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """A flagged draft whose document is back in e-conomic: the CLI says the flag went, as the HTTP
    answer does under `foundAgain`."""
    world = World(env, economic, customers=1, notes=1)
    job = world.run(world.start()["jobId"])
    assert job.state == "succeeded", job.errors
    (draft,) = world.drafts
    number = int(world.headers()[draft].accounting["documentNumber"])
    document = world.agreement.invoice_drafts.pop(number)
    args = ("economic", "sync", "--tenant", world.tenant)

    flagged = manage(world.env, *args)
    assert flagged.returncode == 0, flagged.stderr
    assert f"draft {draft:>6}: deleted in e-conomic without being booked (flagged)" in flagged.stdout
    world.agreement.invoice_drafts[number] = document  # the accountant restored it

    again = manage(world.env, *args)

    assert again.returncode == 0, again.stderr
    assert "missing" not in world.headers()[draft].accounting  # the run did remove the flag ...
    assert f"draft {draft:>6}: in e-conomic again (flag removed)" in again.stdout, again.stdout
