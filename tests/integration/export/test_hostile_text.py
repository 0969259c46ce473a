"""Hostile text never costs the service (issue 16, items 1, 2 and 8): e-mail addresses are checked by
one rule in time linear in the input, the same rule the SMTP adapter sends with, so nothing is stored
that the month-end report cannot be sent to; text that cannot be written as UTF-8 (a lone surrogate)
is refused at the edge naming the field, and rows stored before that rule still read back.

HTTP calls go through the app's pipeline in-process (`Container.api.handle`), as in
test_hostile_input.py: an exception escaping it is the host's 500.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.adapters.mail_message import build_message
from shared.connector.schemas import PositionNoteIn
from shared.container import TABLES
from shared.email_address import MAX_LENGTH, address_problem
from shared.errors import Invalid
from shared.export.report import Reporter
from shared.export.schemas import SettingsIn
from shared.invoicing.directory import TenantSettings
from shared.platform.keys import ADMIN_RIGHT, CONNECTOR_RIGHTS, RESELLER_RIGHT
from shared.repositories.work import TableWorkRepository
from shared.validation import validate
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.support.export import OCT, World
from tests.support.invoicing import BERLIN, note

M = TypeVar("M", bound=BaseModel)


class App:
    def __init__(self, env: dict[str, str], economic: EconomicStandin) -> None:
        self.world = World(env, economic, customers=1, notes=1)
        _, self.key = self.world.container.keys.create(
            self.world.tenant, rights=[ADMIN_RIGHT, RESELLER_RIGHT, *CONNECTOR_RIGHTS], limit=1000
        )

    def call(self, operation: str, body: bytes = b"", **route: str) -> ApiResponse:
        request = ApiRequest(query={"apikey": self.key}, headers={}, body=body, route_params=route)
        try:
            return self.world.container.api.handle(operation, request)
        except BaseException as error:  # the Functions host turns this into a 500
            pytest.fail(f"{operation} raised {type(error).__name__}: {error} -- the host answers 500")


@pytest.fixture
def app(env: dict[str, str], economic: EconomicStandin) -> App:
    return App(env, economic)


def _errors(response: ApiResponse) -> dict[str, str]:
    assert response.status == 400, (response.status, response.body)
    assert isinstance(response.body, dict), response.body
    return {e["Field"]: e["Message"] for e in response.body["Errors"]}


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()  # ensure_ascii: a lone surrogate travels as its \udc80 escape


# -- item 1 and 8: one e-mail rule ------------------------------------------------------------------


def test_a_megabyte_of_hostile_address_is_refused_on_its_length_alone(app: App) -> None:
    hostile = "a@" + "a." * 500_000 + "@"  # the shape that made the old pattern quadratic

    response = app.call("PutTenantSettings", _json({"accountingEmail": hostile}))

    assert "at most 254 characters" in _errors(response)["accountingEmail"]
    assert app.world.container.tenant_settings.get(app.world.tenant).accounting_email != hostile


@pytest.mark.parametrize(
    "address",
    [
        "acct@x.com,y.z",  # a list: the report could be sent to nobody
        "acct@x.com y@z.io",
        "acct\u200b@x.com",  # a zero-width space
        "Acct <acct@x.com>",  # a display name: stored addresses are plain
        "acct@localhost",
        "acct@@x.com",
        ".acct@x.com",
    ],
)
def test_addresses_the_report_could_not_go_to_are_refused_naming_the_field(app: App, address: str) -> None:
    before = app.world.container.tenant_settings.get(app.world.tenant).accounting_email

    response = app.call("PutTenantSettings", _json({"accountingEmail": address}))

    assert "must be an e-mail address" in _errors(response)["accountingEmail"]
    assert app.world.container.tenant_settings.get(app.world.tenant).accounting_email == before


def test_an_address_the_rule_accepts_is_stored_and_can_be_sent_to(app: App) -> None:
    address = "o'brien+billing@sub.example-company.co.uk"

    response = app.call("PutTenantSettings", _json({"accountingEmail": address}))

    assert response.status == 200, response.body
    assert app.world.container.tenant_settings.get(app.world.tenant).accounting_email == address
    message = build_message(sender="bridge@example.com", to=[address], subject="Report", text="ok")
    assert message["To"] == address


def test_the_same_rule_guards_customers_keys_and_queue_messages(app: App) -> None:
    customer = {"customerId": 9, "name": "Nine", "billingEmail": "a@x.com;b@y.com", "currency": "EUR"}
    response = app.call("PutCustomer", _json(customer), customerId="9")
    assert "must be an e-mail address" in _errors(response)["billingEmail"]

    with pytest.raises(Invalid) as refused:
        app.world.container.keys.create(app.world.tenant, rights=[ADMIN_RIGHT], email="me@x.com\u200b")
    assert [e.field for e in refused.value.errors] == ["email"]

    message = json.dumps({"reseller": app.world.tenant, "requestedBy": "me@x.com, you@y.com"})
    job = app.world.container.export.process(message, message_id="m-hostile-mail", dequeue_count=1)
    assert job.state == "failed"
    assert "requestedBy" in " ".join(p.field + " " + p.message for p in job.errors)


def test_the_rule_and_the_smtp_adapter_agree() -> None:
    for address in ("a@x.co", "first.last@mail.example.org", "x@" + "d" * 60 + ".com"):
        assert address_problem(address) is None
        build_message(sender="bridge@example.com", to=[address], subject="s", text="t")
    for address in ("a@x", "a b@x.co", "a@x.co,b@y.co", "a\u2060@x.co", "a" * 65 + "@x.co", "a@" + "x" * MAX_LENGTH):
        assert address_problem(address) is not None
        with pytest.raises(ValueError, match=r"e-mail address|exactly one"):
            build_message(sender="bridge@example.com", to=[address], subject="s", text="t")


# -- item 2: lone surrogates ----------------------------------------------------------------------


def test_a_lone_surrogate_in_a_note_is_refused_naming_the_field(app: App) -> None:
    body = {
        "dateFrom": "2026-10-05T08:00",
        "dateTo": "2026-10-05T09:00",
        "noInvoice": False,
        "extraCharge": False,
        "hint": "bad \udc80",
    }

    response = app.call("CreateInvoicePositionNote", _json(body))

    assert "lone UTF-16 surrogate" in _errors(response)["hint"]


def test_a_lone_surrogate_anywhere_in_a_body_is_refused_naming_where(app: App) -> None:
    body = {"Skip": 0, "PageSize": 5, "AdditionalSearchData": {"UserIds": "x", "Unknown": ["ok", "\ud800"]}}

    response = app.call("GetServiceAssignmentsDispatcher", _json(body))

    assert "AdditionalSearchData.Unknown[1]" in _errors(response)


def test_a_lone_surrogate_in_a_customer_name_is_refused(app: App) -> None:
    customer = {"customerId": 9, "name": "Bad \udfff", "billingEmail": "a@x.com", "currency": "EUR"}

    response = app.call("PutCustomer", _json(customer), customerId="9")

    assert "lone UTF-16 surrogate" in _errors(response)["name"]


def test_a_lone_surrogate_in_a_queue_message_fails_the_job_on_its_first_delivery(app: App) -> None:
    message = json.dumps({"reseller": app.world.tenant, "note": "\udc80"})

    job = app.world.container.export.process(message, message_id="m-hostile-text", dequeue_count=1)

    assert job.state == "failed"
    assert "surrogate" in " ".join(p.message for p in job.errors)


def test_a_note_stored_before_the_rule_still_lists_drafts_and_deletes(app: App) -> None:
    """Old data: written straight through the repository, as the service accepted it before."""
    world = app.world
    work = TableWorkRepository(world.container.storage.table_ref(TABLES["work"]))
    poisoned = note(
        world.tenant, OCT.start(BERLIN) + timedelta(days=20), minutes=60, hint="bad \udc80", service_contract_id=101
    )
    assert work.add(poisoned)

    listing = app.call("GetServiceAssignmentsDispatcher", _json({"Skip": 0, "PageSize": 100, "TakeAll": True}))
    assert listing.status == 200, listing.body
    listing.content()  # the answer can be written as UTF-8
    texts = [r["AssignmentPositionText"] for r in listing.body["Result"]["Results"]]  # type: ignore[call-overload]
    assert "bad \ufffd" in texts

    for number in world.drafts:  # so the next run drafts the poisoned note too
        assert app.call("DeleteInvoiceDraft", draftId=str(number)).status == 200
    run = app.call("CreateInvoicingRun", _json({"period": str(OCT)}))
    assert run.status == 200, run.body
    run.content()
    drafts = run.body["drafts"]  # type: ignore[call-overload]
    assert drafts
    draft = app.call("GetInvoiceDraft", draftId=str(drafts[0]["draftId"]))
    assert draft.status == 200, draft.body
    assert "bad \ufffd" in draft.content().decode("utf-8")
    assert app.call("DeleteInvoiceDraft", draftId=str(drafts[0]["draftId"])).status == 200


# -- properties: any string in, a 4xx or a value that survives storage -------------------------------

_PROPERTY = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=st.characters(exclude_categories=()), max_size=300))  # surrogates too
def test_any_hint_is_refused_naming_the_field_or_reads_back_as_it_was(app: App, text: str) -> None:
    data = _validated(PositionNoteIn, {**_NOTE, "hint": text})
    if isinstance(data, Invalid):
        assert [e.field for e in data.errors] == ["hint"]
        return
    record = note(app.world.tenant, minutes=30, hint=data.hint)
    work = TableWorkRepository(app.world.container.storage.table_ref(TABLES["work"]))
    assert work.add(record)
    stored = work.get(app.world.tenant, record.record_id)
    assert stored is not None
    assert stored.hint == text


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.text(max_size=80), st.emails().map(str)))
def test_any_address_is_refused_or_stored_sent_and_read_back_as_it_was(app: App, text: str) -> None:
    data = _validated(SettingsIn, {"accountingEmail": text})
    if isinstance(data, Invalid):
        assert [e.field for e in data.errors] == ["accountingEmail"]
        return
    assert data.accountingEmail is not None
    settings_ = app.world.container.tenant_settings
    settings_.put(app.world.tenant, TenantSettings(accounting_email=data.accountingEmail))
    assert settings_.get(app.world.tenant).accounting_email == data.accountingEmail == text.strip()
    build_message(sender="bridge@example.com", to=[data.accountingEmail], subject="s", text="t")


_NOTE = {"dateFrom": "2026-10-05T08:00", "dateTo": "2026-10-05T09:00", "noInvoice": False, "extraCharge": False}


def _validated(model: type[M], document: dict[str, Any]) -> M | Invalid:
    try:
        return validate(model, document, BERLIN)
    except Invalid as refused:
        return refused


class _Mailbox:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


@pytest.mark.parametrize("legacy", ["acct@x.com,y.z", "acct@x.com\u200b", "bad\udc80@x.com"])
def test_an_unusable_stored_address_does_not_keep_the_report_from_the_requester(app: App, legacy: str) -> None:
    """An accounting address stored before the one rule held: the requester still gets the report."""
    mailbox = _Mailbox()
    reporter = Reporter(mailer=lambda: mailbox, accounting_email=lambda tenant: legacy)
    job = app.world.run(app.world.start()["jobId"])

    assert reporter.send(replace(job, notify=("requester@example.com",)), {}) is True

    (message,) = mailbox.sent
    assert message["To"] == "requester@example.com"


def test_an_answer_never_fails_on_a_lone_surrogate_that_got_into_it() -> None:
    assert ApiResponse(200, {"hint": "bad \udc80"}).content() == '{"hint":"bad \ufffd"}'.encode()
