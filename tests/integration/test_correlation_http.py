"""Through the local host: the app's log line for a call names the Logic Apps run that made it."""

from __future__ import annotations

from devhost.processes import DevHost
from tests.support.app import NOTE, Client, KeyMaker


def test_the_log_line_of_a_call_carries_the_callers_tracking_and_run_ids(host: DevHost, make_key: KeyMaker) -> None:
    key = make_key()
    headers = {"x-ms-client-tracking-id": "trk-7f3a91", "x-ms-workflow-run-id": "08584521-run-42"}

    response = Client(host.base_url, key).post("CreateInvoicePositionNote", NOTE, headers=headers)

    assert response.status_code == 200
    host.wait_for_log("client_tracking_id=trk-7f3a91")
    line = next(line for line in host.log_text().splitlines() if "client_tracking_id=trk-7f3a91" in line)
    assert "CreateInvoicePositionNote -> 200" in line
    assert "workflow_run_id=08584521-run-42" in line
    assert key.split("_", 2)[2] not in host.log_text()
