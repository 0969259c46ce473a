"""`Idempotency-Key`: a retried create answers like the first attempt and never records twice."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.errors import DomainError, Invalid, Rejected, Unavailable
from shared.platform.idempotency import Idempotency, IdempotencyRecord, fingerprint
from shared.web.status import error_body, error_response, http_status
from shared.web.types import ApiResponse
from tests.support.fakes import FakeClock, FakeIdempotencyRepository

LEASE = timedelta(seconds=30)
TTL = timedelta(hours=24)
TENANT = "acme"
CALLER = "0123456789abcdef"  # the API key's id
OPERATION = "CreateInvoicePositionNote"
BODY: dict[str, Any] = {"dateFrom": "2024-05-01T08:00:00Z", "dateTo": "2024-05-01T09:00:00Z", "hint": "mail"}
PRINT = fingerprint(BODY)


class Action:
    """A create action that records every generation it ran with and answers with a fresh id."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.runs: list[str] = []

    def __call__(self, generation: str) -> ApiResponse:
        self.runs.append(generation)
        return ApiResponse(
            self.status, {"Message": "Position note created.", "Success": True, "invoiceNoteId": f"n{len(self.runs)}"}
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repo() -> FakeIdempotencyRepository:
    return FakeIdempotencyRepository()


@pytest.fixture
def idem(repo: FakeIdempotencyRepository, clock: FakeClock) -> Idempotency:
    # Waiting for an attempt in flight passes fake time, not real time.
    return Idempotency(
        repo, clock=clock.now, ttl=TTL, lease=LEASE, sleep=lambda seconds: clock.advance(timedelta(seconds=seconds))
    )


def run(
    idem: Idempotency,
    action: Callable[[str], ApiResponse],
    *,
    key: str = "key-1",
    body_print: str = PRINT,
    operation: str = OPERATION,
    scope: str = TENANT,
    caller: str = CALLER,
) -> ApiResponse:
    return idem.run(scope, caller, operation, key, body_print, action)


def field_errors(error: DomainError) -> list[str]:
    return [e["Field"] for e in error_body(error)["Errors"]]


# --- first run and replay ------------------------------------------------------------------------


def test_first_request_runs_the_action_and_answers_with_its_response(idem: Idempotency) -> None:
    action = Action()

    response = run(idem, action)

    assert len(action.runs) == 1
    assert action.runs[0]
    assert response.status == 200
    assert isinstance(response.body, dict)
    assert response.body["invoiceNoteId"] == "n1"
    assert "Idempotent-Replayed" not in response.headers


def test_repeat_with_the_same_key_and_body_replays_the_first_answer_without_running_again(
    idem: Idempotency, clock: FakeClock
) -> None:
    first = run(idem, Action(201))
    clock.advance(timedelta(hours=1))
    again = Action()

    replayed = run(idem, again)

    assert again.runs == []
    assert replayed.status == 201
    assert replayed.body == first.body
    assert replayed.headers == {"Idempotent-Replayed": "true"}


def test_replay_works_just_before_the_key_expires(idem: Idempotency, clock: FakeClock) -> None:
    first = run(idem, Action())
    clock.advance(TTL - timedelta(seconds=1))
    again = Action()

    assert run(idem, again).body == first.body
    assert again.runs == []


def test_same_key_with_another_body_is_unprocessable(idem: Idempotency) -> None:
    run(idem, Action())
    other = Action()

    with pytest.raises(Rejected) as caught:
        run(idem, other, body_print=fingerprint({**BODY, "hint": "something else"}))

    assert http_status(caught.value) == 422
    assert field_errors(caught.value) == ["Idempotency-Key"]
    assert other.runs == []


def test_body_fingerprint_ignores_key_order_but_not_values() -> None:
    reordered = dict(reversed(list(BODY.items())))

    assert fingerprint(reordered) == PRINT
    assert fingerprint({**BODY, "hint": "mail "}) != PRINT


# --- concurrent and crashed attempts -------------------------------------------------------------


def test_repeat_while_the_first_is_still_running_is_unavailable_with_retry_after(
    idem: Idempotency, clock: FakeClock
) -> None:
    # 503, not 409: Logic Apps retries 408, 429 and 5xx only (issue 15, item 6; sources below).
    seen: list[DomainError] = []
    inner = Action()

    def first(generation: str) -> ApiResponse:
        clock.advance(timedelta(seconds=20))
        try:
            run(idem, inner)
        except Unavailable as error:
            seen.append(error)
        return Action()(generation)

    response = run(idem, first)

    [conflict] = seen
    assert http_status(conflict) == 503
    assert 1 <= int(error_response(conflict).headers["Retry-After"]) <= (LEASE - timedelta(seconds=20)).seconds + 1
    assert inner.runs == []
    assert response.status == 200


def test_retry_after_the_advertised_wait_takes_over_a_claim_that_is_still_not_done(
    idem: Idempotency, clock: FakeClock
) -> None:
    outer_generation: list[str] = []
    takeover = Action()

    def stuck(generation: str) -> ApiResponse:
        outer_generation.append(generation)
        with pytest.raises(Unavailable) as caught:
            run(idem, Action())
        clock.advance(timedelta(seconds=int(error_response(caught.value).headers["Retry-After"])))
        run(idem, takeover)
        return Action()(generation)

    run(idem, stuck)

    assert takeover.runs == outer_generation


def test_claim_of_a_dead_attempt_is_taken_over_after_the_lease_with_the_same_generation(
    idem: Idempotency, clock: FakeClock
) -> None:
    # The first worker "dies" inside its action: it never answers before its lease runs out, and a
    # retry arrives meanwhile. The retry must run with the same generation, so that the records it
    # creates get the ids the first attempt used.
    dead = Action()
    retry = Action()

    def dies(generation: str) -> ApiResponse:
        dead(generation)
        clock.advance(LEASE + timedelta(seconds=1))
        run(idem, retry)
        return ApiResponse(200, {"late": True})

    run(idem, dies)

    assert len(retry.runs) == 1
    assert retry.runs == dead.runs


def test_answer_of_the_attempt_that_took_over_is_the_one_replayed(idem: Idempotency, clock: FakeClock) -> None:
    def dies(generation: str) -> ApiResponse:
        clock.advance(LEASE + timedelta(seconds=1))
        run(idem, lambda _gen: ApiResponse(200, {"by": "retry"}))
        return ApiResponse(200, {"by": "first, too late"})

    run(idem, dies)

    replayed = run(idem, Action())
    assert replayed.body == {"by": "retry"}
    assert replayed.headers == {"Idempotent-Replayed": "true"}


def test_key_is_fresh_after_its_time_to_live(idem: Idempotency, clock: FakeClock) -> None:
    first = Action()
    run(idem, first)
    clock.advance(TTL)
    second = Action()

    response = run(idem, second)

    assert len(second.runs) == 1
    assert second.runs[0] != first.runs[0]
    assert "Idempotent-Replayed" not in response.headers


def test_expired_key_may_be_reused_with_another_body(idem: Idempotency, clock: FakeClock) -> None:
    run(idem, Action())
    clock.advance(TTL + timedelta(minutes=1))
    second = Action()

    run(idem, second, body_print=fingerprint({"other": "body"}))

    assert len(second.runs) == 1


# --- failures release the key --------------------------------------------------------------------


def test_action_that_raises_releases_the_key_so_a_retry_runs_again(idem: Idempotency) -> None:
    def fails(_generation: str) -> ApiResponse:
        raise RuntimeError("storage down")

    with pytest.raises(RuntimeError):
        run(idem, fails)
    retry = Action()
    response = run(idem, retry)

    assert len(retry.runs) == 1
    assert "Idempotent-Replayed" not in response.headers


def test_action_that_raises_an_api_error_releases_the_key(idem: Idempotency) -> None:
    def refuses(_generation: str) -> ApiResponse:
        raise Invalid("dateTo must be after dateFrom")

    with pytest.raises(Invalid):
        run(idem, refuses)
    retry = Action()
    run(idem, retry)

    assert len(retry.runs) == 1


@pytest.mark.parametrize("status", [400, 409, 429, 500, 503])
def test_non_2xx_answer_is_returned_but_not_kept_so_a_retry_runs_again(idem: Idempotency, status: int) -> None:
    failing = Action(status)

    answer = run(idem, failing)
    retry = Action()
    again = run(idem, retry)

    assert answer.status == status
    assert len(retry.runs) == 1
    assert again.status == 200
    assert "Idempotent-Replayed" not in again.headers


def test_failed_attempt_releases_the_key_even_for_another_body(idem: Idempotency) -> None:
    run(idem, Action(500))
    other = Action()

    run(idem, other, body_print=fingerprint({"other": "body"}))

    assert len(other.runs) == 1


# --- scoping -------------------------------------------------------------------------------------


def test_same_key_for_two_operations_is_independent(idem: Idempotency) -> None:
    note, recording = Action(), Action()

    run(idem, note, operation="CreateInvoicePositionNote")
    answer = run(idem, recording, operation="CreateActivityRecording", body_print=fingerprint({"x": 1}))

    assert len(note.runs) == 1
    assert len(recording.runs) == 1
    assert "Idempotent-Replayed" not in answer.headers


def test_same_key_for_two_tenants_is_independent(idem: Idempotency) -> None:
    acme, globex = Action(), Action()

    run(idem, acme, scope="acme")
    run(idem, globex, scope="globex")

    assert len(acme.runs) == 1
    assert len(globex.runs) == 1
    assert acme.runs != globex.runs


def test_same_key_and_body_from_another_connection_of_the_tenant_runs_again(idem: Idempotency) -> None:
    """A key belongs to the connection that sent it: another API key never gets its answer."""
    first, second = Action(), Action()

    run(idem, first, caller="aaaaaaaaaaaaaaaa")
    answer = run(idem, second, caller="bbbbbbbbbbbbbbbb")

    assert len(second.runs) == 1
    assert "Idempotent-Replayed" not in answer.headers
    assert isinstance(answer.body, dict)
    assert answer.body["invoiceNoteId"] == "n1"  # its own action's answer


def test_a_claim_stored_before_keys_were_scoped_by_connection_is_never_replayed(
    idem: Idempotency, repo: FakeIdempotencyRepository, clock: FakeClock
) -> None:
    """Claims of the previous version were keyed by sha256(operation + newline + key) under the tenant
    alone: whichever connection sent the key first. After the upgrade no caller gets that answer."""
    now = clock.now()
    legacy = hashlib.sha256(f"{OPERATION}\nkey-1".encode()).hexdigest()
    stored = '{"Message": "Position note created.", "Success": true, "invoiceNoteId": "someone-elses"}'
    repo.insert(IdempotencyRecord(TENANT, legacy, PRINT, "COMPLETED", "g0", now, now + TTL, 200, stored))
    action = Action()

    answer = run(idem, action, key="key-1")

    assert len(action.runs) == 1
    assert "Idempotent-Replayed" not in answer.headers
    assert "someone-elses" not in json.dumps(answer.body)


# --- key format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "k" * 256, "with space", "tab\there", "line\nbreak", "schlüssel", "\x7f"])
def test_invalid_key_is_refused_naming_the_header(idem: Idempotency, key: str) -> None:
    action = Action()

    with pytest.raises(Invalid) as caught:
        run(idem, action, key=key)

    assert http_status(caught.value) == 400
    assert field_errors(caught.value) == ["Idempotency-Key"]
    assert action.runs == []


@pytest.mark.parametrize("key", ["k", "k" * 255, "8c2e0f1a-6b7d-4c1e-9f3a-2d5b6c7e8f90", "~!@#$%^&*()_+{}|:<>?"])
def test_visible_ascii_keys_up_to_255_characters_are_accepted(idem: Idempotency, key: str) -> None:
    action = Action()

    run(idem, action, key=key)
    run(idem, action, key=key)

    assert len(action.runs) == 1


# --- a Logic Apps retry that meets the first attempt still running (issue 15, item 6) ---------------
# Logic Apps retries only "a 408, 429, or 5xx response" (Microsoft Learn, "Handle errors and exceptions
# in Azure Logic Apps", retry policies: https://learn.microsoft.com/azure/logic-apps/error-exception-handling;
# MicrosoftDocs/azure-docs articles/logic-apps/error-exception-handling.md). A 409 ends the action as
# Failed although the first attempt created the note. So the retry first waits (bounded) for the first
# attempt and answers with its response; if it is still running after that, the answer is a status
# Logic Apps retries, with Retry-After (honoured on 429 per connectors-native-http.md; on 503
# UNVERIFIED, so the value is also short enough for the default exponential policy to outlast).

WAIT = timedelta(seconds=5)


def waiting(repo: FakeIdempotencyRepository, clock: FakeClock, sleep: Callable[[float], None]) -> Idempotency:
    return Idempotency(repo, clock=clock.now, ttl=TTL, lease=LEASE, in_flight_wait=WAIT, sleep=sleep)


def test_a_retry_that_meets_the_first_attempt_in_flight_waits_for_it_and_answers_with_its_response(
    repo: FakeIdempotencyRepository, clock: FakeClock
) -> None:
    claimed, release, finished = threading.Event(), threading.Event(), threading.Event()
    first_answer: list[ApiResponse] = []

    def slow(generation: str) -> ApiResponse:
        claimed.set()
        assert release.wait(timeout=10)
        return Action()(generation)

    def sleep(seconds: float) -> None:
        release.set()  # the first attempt finishes while the retry waits
        assert finished.wait(timeout=10)
        clock.advance(timedelta(seconds=seconds))

    idem = waiting(repo, clock, sleep)

    def first_attempt() -> None:
        first_answer.append(run(idem, slow))
        finished.set()

    first = threading.Thread(target=first_attempt, daemon=True)
    first.start()
    assert claimed.wait(timeout=10)
    retry = Action()

    answer = run(idem, retry)
    first.join(timeout=10)

    assert retry.runs == []
    assert answer.status == 200
    assert answer.body == first_answer[0].body
    assert answer.headers == {"Idempotent-Replayed": "true"}


def test_a_retry_that_still_meets_the_first_attempt_after_the_wait_gets_a_status_logic_apps_retries(
    repo: FakeIdempotencyRepository, clock: FakeClock
) -> None:
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    idem = waiting(repo, clock, sleep)
    seen: list[DomainError] = []
    inner = Action()

    def first(generation: str) -> ApiResponse:
        try:
            run(idem, inner)
        except DomainError as error:
            seen.append(error)
        return Action()(generation)

    run(idem, first)

    [busy] = seen
    answer = error_response(busy)
    assert answer.status in (408, 429) or 500 <= answer.status <= 599  # what Logic Apps retries
    assert 1 <= int(answer.headers["Retry-After"]) <= (LEASE - WAIT).seconds + 1
    assert "still being processed" in error_body(busy)["Message"]
    assert inner.runs == []
    assert 0 < sum(waited) <= WAIT.total_seconds()  # a bounded wait


def test_a_retry_waiting_for_an_attempt_whose_lease_runs_out_takes_over_with_its_generation(
    repo: FakeIdempotencyRepository, clock: FakeClock
) -> None:
    idem = waiting(repo, clock, lambda seconds: clock.advance(timedelta(seconds=seconds)))
    dead, retry = Action(), Action()

    def dies(generation: str) -> ApiResponse:
        dead(generation)
        clock.advance(LEASE - timedelta(seconds=2))  # the lease ends during the retry's wait
        return ApiResponse(200, {"first": True}) if run(idem, retry).status == 200 else ApiResponse(500, {})

    run(idem, dies)

    assert retry.runs == dead.runs
