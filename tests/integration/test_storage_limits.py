"""What Table storage can never keep is the caller's 4xx naming the field, never a 503 "retry shortly"
(issue 16, item 6): Logic Apps retries 503 forever, and no retry can make a record fit.

Limits: https://learn.microsoft.com/en-us/rest/api/storageservices/understanding-the-table-service-data-model
(a String or Binary property at most 64 KiB, strings in UTF-16; an entity at most 1 MiB). Azurite
answers a too-large property with 400 `PropertyValueTooLarge`, as the service does.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.adapters.storage import StorageAccount, StorageConnection, check_entity, storage_errors
from shared.errors import DomainError, TooLarge
from shared.export.jobs import Job, Problem
from shared.repositories.export import TableJobRepository
from shared.web.status import error_response, http_status


def _storage(app_env: dict[str, str]) -> StorageAccount:
    return StorageAccount(StorageConnection.from_env("AzureWebJobsStorage", app_env), table_prefix="lim")


def _job(**changes: object) -> Job:
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "job_id": str(uuid.uuid4()),
        "tenant": "acme",
        "document_type": "draftInvoice",
        "invoice_date": date(2026, 11, 1),
        "group_lines": False,
        "layout": None,
        "omit": (),
        "admin_mode": False,
        "requested_by": "k",
        "notify": (),
        "created_at": now,
        "updated_at": now,
        **changes,
    }
    return Job(**fields)  # type: ignore[arg-type]


def _fields(error: DomainError) -> list[str]:
    return [e.field for e in error.errors]


def test_storage_refusing_a_property_as_too_large_is_a_413_not_a_storage_outage(app_env: dict[str, str]) -> None:
    table = _storage(app_env).table_ref("Raw" + uuid.uuid4().hex[:8])

    @storage_errors
    def store() -> None:
        table().create_entity({"PartitionKey": "p", "RowKey": "r", "Text": "x" * 40_000})

    with pytest.raises(TooLarge) as refused:
        store()

    answer = error_response(refused.value)
    assert answer.status == 413
    assert "Retry-After" not in answer.headers


def test_a_job_omitting_more_drafts_than_one_property_holds_is_refused_before_sending(
    app_env: dict[str, str],
) -> None:
    """7,000 ids (validation allows 1,000 since the fix; the store must hold even if a caller gets past)."""
    jobs = TableJobRepository(_storage(app_env).table_ref("Jobs" + uuid.uuid4().hex[:8]))
    job = _job(omit=tuple(range(1_000_000, 1_007_000)))

    with pytest.raises(TooLarge) as refused:
        jobs.create(job)

    assert _fields(refused.value) == ["invoicesToOmit"]
    assert http_status(refused.value) == 413
    assert jobs.get(job.job_id) is None


def test_a_job_with_long_errors_in_astral_characters_is_stored_and_read_back(app_env: dict[str, str]) -> None:
    """e-conomic's messages land in the job's errors; 30,000 characters of emoji are 120 KB in UTF-16."""
    jobs = TableJobRepository(_storage(app_env).table_ref("Jobs" + uuid.uuid4().hex[:8]))
    problems = tuple(Problem("economic", "\U0001f4a5" * 400) for _ in range(200))
    created = jobs.create(_job(errors=problems))
    assert created is not None

    stored = jobs.get(created.job_id)

    assert stored is not None
    assert stored.errors[0] == problems[0]
    assert stored.errors[-1].field == "errors"
    assert "more" in stored.errors[-1].message


def test_check_entity_counts_strings_in_utf16_and_names_the_callers_field() -> None:
    fits = {"PartitionKey": "p", "RowKey": "r", "Omit": "x" * 32_768}
    astral = {"PartitionKey": "p", "RowKey": "r", "Omit": "\U0001f4a5" * 16_385}

    check_entity(fits, {"Omit": "invoicesToOmit"})
    with pytest.raises(TooLarge) as refused:
        check_entity(astral, {"Omit": "invoicesToOmit"})

    assert _fields(refused.value) == ["invoicesToOmit"]


def test_check_entity_refuses_a_record_over_one_mebibyte_naming_its_largest_part() -> None:
    entity = {"PartitionKey": "p", "RowKey": "r", **{f"P{n}": "x" * 30_000 for n in range(17)}, "Big": "y" * 32_000}

    with pytest.raises(TooLarge) as refused:
        check_entity(entity, {"Big": "hint"})

    assert _fields(refused.value) == ["hint"]
    assert json.dumps(refused.value.message)
