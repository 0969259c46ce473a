"""Answers the fuzzer found off the document, each pinned by one request: the document now declares what
the service really answers."""

from __future__ import annotations

import requests
from schemathesis.schemas import BaseSchema

from tests.fuzz.conftest import Target
from tests.fuzz.test_openapi_fuzz import CHECKS


def test_the_pdf_of_a_missing_draft_is_a_json_404_the_document_declares(
    served_schema: BaseSchema, target: Target
) -> None:
    """GetInvoiceDraftPdf declared only application/pdf; its errors are the JSON envelope."""
    operation = served_schema["/invoicing/drafts/{draftId}/pdf"]["GET"]
    case = operation.Case(path_parameters={"draftId": 999_999}, query={"apikey": target.key})

    response = case.call(session=requests.Session(), timeout=60)

    assert response.status_code == 404
    assert response.headers["content-type"][0].startswith("application/json")
    case.validate_response(response, checks=CHECKS)


def test_an_export_answers_202_with_the_declared_body(served_schema: BaseSchema, target: Target) -> None:
    """CreateEconomicInvoiceDrafts queues the export and answers 202; the document said 200."""
    operation = served_schema["/integration/economic/invoice/draft"]["POST"]
    case = operation.Case(
        body={"invoiceDate": "2026-11-01"}, query={"apikey": target.key}, media_type="application/json"
    )

    response = case.call(session=requests.Session(), timeout=60)

    assert response.status_code == 202, response.content
    assert response.json()["drafts"] == sorted(target.world.drafts)
    case.validate_response(response, checks=CHECKS)
