"""`python -m devhost --sandbox` (what `make run` starts): the month-end flow over HTTP, from position
notes to a draft invoice in the sandbox's e-conomic stand-in and the report in its mail folder.

The sandbox runs on free ports here (`SANDBOX_*_PORT`), so the test runs beside a `make run`; every other
setting it needs comes from local.settings.example.json, so the example is what is tested.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
import requests

from devhost.processes import REPO_ROOT, Azurite, ProcessStartError, free_port, run_azurite, run_devhost
from devhost.sandbox import APP_SECRET_TOKEN, GRANT_TOKEN, TENANT
from shared.container import build
from tests.support.app import app_env_for
from tests.support.devhost_helpers import make_script_root, wait_until

SANDBOX_SETTINGS = ("ECONOMIC_BASE_URL", "ECONOMIC_APP_SECRET_TOKEN", "ECONOMIC_GRANT_TOKEN_DEMO", "SMTP_")


@pytest.fixture(scope="module")
def private_azurite() -> Iterator[Azurite]:
    # Its own Azurite: app hosts of other test modules poll `economic-export` too and would take the job.
    with run_azurite() as instance:
        yield instance


def example_settings() -> dict[str, str]:
    values: dict[str, str] = json.loads((REPO_ROOT / "local.settings.example.json").read_text())["Values"]
    return {name: value for name, value in values.items() if name.startswith(SANDBOX_SETTINGS)}


def two_free_ports() -> tuple[int, int]:
    first, second = free_port(), free_port()
    while second == first:
        second = free_port()
    return first, second


def test_the_example_settings_point_at_the_sandbox() -> None:
    assert example_settings() == {
        "ECONOMIC_BASE_URL": "http://127.0.0.1:7072",
        "ECONOMIC_APP_SECRET_TOKEN": APP_SECRET_TOKEN,
        "ECONOMIC_GRANT_TOKEN_DEMO": GRANT_TOKEN,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": "1025",
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "invoice-bridge@localhost",
    }


def test_month_end_against_the_sandbox(private_azurite: Azurite, tmp_path: Path) -> None:
    economic_port, smtp_port = two_free_ports()
    economic_url = f"http://127.0.0.1:{economic_port}"
    mail_dir = tmp_path / "mail"
    env = app_env_for(
        private_azurite,
        **{
            **example_settings(),
            "ECONOMIC_BASE_URL": economic_url,
            "SMTP_PORT": str(smtp_port),
            "SANDBOX_ECONOMIC_PORT": str(economic_port),
            "SANDBOX_SMTP_PORT": str(smtp_port),
            "SANDBOX_MAIL_DIR": str(mail_dir),
        },
    )
    _, key = build(env).keys.create(
        "demo", name="sandbox test", rights=("admin", "reseller", "CreateInvoicePositionNote"), email="me@example.com"
    )

    with run_devhost(env=env, extra_args=["--sandbox"]) as host:
        # The port accepts connections a moment before the banner is printed.
        log = host.wait_for_log("point at the sandbox.")
        assert f"e-conomic stand-in: {economic_url}  (NOT e-conomic" in log
        assert f"SMTP sink: 127.0.0.1:{smtp_port}" in log
        assert "The app's settings (ECONOMIC_*, SMTP_*) point at the sandbox." in log
        api = Api(host.base_url, key)

        customer = {"name": "Acme A/S", "accountingSystemId": 1, "billingEmail": "ap@acme.example", "currency": "DKK"}
        api.call("PUT", "billing/customers/1", customer)
        api.call("PUT", "billing/contracts/11", {"customerId": 1, "productNumber": "1", "hourlyRate": "950.00"})
        api.call("PUT", "billing/settings", {"accountingEmail": "accounting@demo.example"})
        for start, end in (("2026-10-05T08:00", "2026-10-05T10:30"), ("2026-10-12T13:00", "2026-10-12T14:15")):
            note = {"dateFrom": start, "dateTo": end, "noInvoice": False, "extraCharge": False, "serviceContractID": 11}
            api.call("POST", "ApiInvoice/CreateInvoicePositionNote", note)
        run = api.call("POST", "invoicing/runs", {"period": "2026-10"})
        assert run["unresolved"] == []
        (draft,) = run["drafts"]
        draft_id = draft["draftId"]
        assert draft["totals"]["net"] == "3562.50"  # 3.75 h x 950.00

        started = api.call("POST", "integration/economic/invoice/draft", {"invoiceDate": "2026-11-01"}, status=202)
        assert started["drafts"] == [draft_id]
        assert started["statusUrl"].startswith(f"{host.base_url}/integration/economic/invoice/draft/")

        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = api.get(started["statusUrl"])
            return job if job["state"] in ("succeeded", "failed") else None

        job = wait_until(finished, timeout=30, what="the export job to finish")
        assert (job["state"], job["success"], job["total"], job["exported"]) == ("succeeded", True, 1, 1), job
        (document,) = job["documents"]
        assert document["draftId"] == draft_id
        number = document["number"]

        exported = api.get(f"{host.base_url}/invoicing/drafts/{draft_id}")
        assert exported["status"] == "exported"
        assert exported["accounting"]["documentNumber"] == number

        in_economic = requests.get(
            f"{economic_url}/invoices/drafts/{number}",
            headers={"X-AppSecretToken": APP_SECRET_TOKEN, "X-AgreementGrantToken": GRANT_TOKEN},
            timeout=10,
        )
        assert in_economic.status_code == 200, in_economic.text
        assert in_economic.json()["references"]["other"] == f"IB-{TENANT}-{draft_id}"
        assert in_economic.json()["customer"]["customerNumber"] == 1

        (mail,) = wait_until(lambda: sorted(mail_dir.glob("*.eml")), timeout=15, what="the report mail")
        text = mail.read_text(encoding="utf-8")
        assert "Subject: e-conomic export done: 1 draft invoice created for demo" in text
        assert text.startswith(
            "X-MailFrom: invoice-bridge@localhost\nX-RcptTo: me@example.com, accounting@demo.example\n"
        )
        assert "come back to the drafts." in text  # decoded: no quoted-printable soft line break
        assert f"{draft_id:>8} -> {number:<8} Acme A/S" in text

        # The accountant books it (e-conomic's own call), the sync brings the number back.
        tokens = {"X-AppSecretToken": APP_SECRET_TOKEN, "X-AgreementGrantToken": GRANT_TOKEN}
        booking = requests.post(
            f"{economic_url}/invoices/booked",
            json={"draftInvoice": {"draftInvoiceNumber": number}},
            headers=tokens,
            timeout=10,
        )
        assert booking.status_code == 201, booking.text
        invoice_number = booking.json()["bookedInvoiceNumber"]
        synced = api.call("POST", "integration/economic/sync", {})
        assert synced["complete"] is True
        assert synced["booked"] == [
            {"draftId": draft_id, "invoiceNumber": invoice_number, "date": "2026-11-01", "netAmount": "3562.50"}
        ]
        booked = api.get(f"{host.base_url}/invoicing/drafts/{draft_id}")
        assert (booked["status"], booked["invoiceNumber"]) == ("booked", invoice_number)
        assert booked["accounting"]["booked"]["grossAmount"] == "4453.13"  # e-conomic's VAT (25 %)
        pdf = api.session.get(f"{host.base_url}/invoicing/drafts/{draft_id}/pdf", params={"apikey": key}, timeout=30)
        title = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert f"Invoice {invoice_number} (draft {draft_id})" in title
        state = api.get(f"{host.base_url}/integration/economic/sync")
        assert (state["watermark"], state["running"], state["lastError"]) == (invoice_number, False, None)

        # Customers from e-conomic: Acme is linked, Globex is new, Initech has no e-mail there.
        report = api.get(f"{host.base_url}/integration/economic/customers")
        assert [row["customerNumber"] for row in report["linked"]] == [1]
        assert [row["customerNumber"] for row in report["new"]] == [2, 3]
        imported = api.call("POST", "integration/economic/customers", {"importNew": True})
        assert [row["customerId"] for row in imported["imported"]] == [2]
        assert [(row["customerNumber"], row["action"]) for row in imported["skipped"]] == [(3, "importNew")]
        globex = api.get(f"{host.base_url}/billing/customers/2")
        assert globex == {
            "customerId": 2,
            "name": "Globex GmbH",
            "accountingSystemId": 2,
            "billingEmail": "invoices@globex.example",
            "currency": "EUR",
        }
        again = api.call("POST", "integration/economic/customers", {"importNew": True})
        assert again["imported"] == []

    assert host.returncode == 0
    for port in (economic_port, smtp_port):  # both stopped with the host
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("taken", ["SANDBOX_ECONOMIC_PORT", "SANDBOX_SMTP_PORT"])
def test_a_taken_sandbox_port_stops_the_host_with_a_clear_message(tmp_path: Path, taken: str) -> None:
    script_root = make_script_root(tmp_path / "app", message_encoding="none")
    economic_port, smtp_port = two_free_ports()
    ports = {"SANDBOX_ECONOMIC_PORT": economic_port, "SANDBOX_SMTP_PORT": smtp_port}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[taken]))
        holder.listen()
        env = {name: str(port) for name, port in ports.items()}
        with (
            pytest.raises(ProcessStartError, match=rf"127\.0\.0\.1:{ports[taken]} is already in use") as caught,
            run_devhost(env=env, app="sample_app:app", script_root=script_root, extra_args=["--sandbox"]),
        ):
            pass
    assert "devhost exited with code 1" in str(caught.value)


class Api:
    """The app over HTTP with one API key (as the `apikey` query parameter, as the connector sends it)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any], *, status: int = 200) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/{path}", params={"apikey": self.key}, json=body, timeout=30
        )
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json()

    def get(self, url: str) -> Any:
        response = self.session.get(url, params={"apikey": self.key}, timeout=30)
        assert response.status_code == 200, (url, response.text)
        return response.json()
