"""Property-based checks of the throttle's two promises over random arrival times and processes."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from shared.platform.throttle import Decision, SlidingWindowLimiter
from tests.support.fakes import FakeWindowStore
from tests.support.throttle import (
    SecondsClock,
    admitted_in_window_ending,
    most_in_any_window,
    ms,
    no_sleep,
)

TICK = 0.125
"""Arrival times are whole ticks of 1/8 s: exact in binary, so the limiter sees exactly the times given."""

KEY = "key-1"

CHECKS = settings(max_examples=150, deadline=None, database=None)

# Hypothesis caches what it learns about the source in a `.hypothesis` directory under the current
# directory; keep that out of the working tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "invoice-bridge-hypothesis")


@dataclass(frozen=True)
class Scenario:
    limit: int
    period_ticks: int
    arrivals: list[int]
    """Arrival times in ticks, ascending."""
    processes: list[int]
    """Which process (limiter instance sharing the store) handles each arrival."""
    lags: list[int]
    """Per process, how many ticks its clock runs behind."""

    @property
    def period(self) -> float:
        return self.period_ticks * TICK

    @property
    def period_ms(self) -> int:
        return ms(self.period)


@st.composite
def scenarios(draw: st.DrawFn, *, max_lag: int = 0) -> Scenario:
    limit = draw(st.integers(min_value=1, max_value=6))
    period_ticks = draw(st.integers(min_value=1, max_value=40))
    gaps = draw(st.lists(st.integers(min_value=0, max_value=period_ticks), min_size=1, max_size=60))
    arrivals = []
    t = 8
    for gap in gaps:
        t += gap
        arrivals.append(t)
    count = draw(st.integers(min_value=1, max_value=3))
    processes = draw(st.lists(st.integers(0, count - 1), min_size=len(arrivals), max_size=len(arrivals)))
    lags = draw(st.lists(st.integers(0, max_lag), min_size=count, max_size=count))
    return Scenario(limit, period_ticks, arrivals, processes, lags)


def run(scenario: Scenario) -> list[tuple[int, Decision]]:
    """Each arrival decided by its process; returns (arrival in ms as that process saw it, decision)."""
    store = FakeWindowStore()
    clocks = [SecondsClock() for _ in scenario.lags]
    limiters = [SlidingWindowLimiter(store, clock=c, sleep=no_sleep) for c in clocks]
    results = []
    for arrival, process in zip(scenario.arrivals, scenario.processes, strict=True):
        seen = (arrival - scenario.lags[process]) * TICK
        clocks[process].set(seen)
        results.append((ms(seen), limiters[process].admit(KEY, scenario.limit, scenario.period)))
    return results


@CHECKS
@given(scenarios())
def test_admissions_never_exceed_the_limit_in_any_window(scenario: Scenario) -> None:
    decisions = [d for _, d in run(scenario)]

    stamps = [ms(d.at) for d in decisions if d.admitted]
    assert most_in_any_window(stamps, scenario.period_ms) <= scenario.limit


@CHECKS
@given(scenarios())
def test_a_call_is_refused_only_when_the_window_before_it_is_full(scenario: Scenario) -> None:
    admitted: list[int] = []
    for arrival, decision in run(scenario):
        if decision.admitted:
            assert ms(decision.at) == arrival  # with one true clock, admitted at its own arrival
            admitted.append(arrival)
            continue
        assert ms(decision.at) == arrival
        assert admitted_in_window_ending(admitted, arrival, scenario.period_ms) >= scenario.limit


@CHECKS
@given(scenarios())
def test_retry_after_is_exactly_when_the_window_has_room_again(scenario: Scenario) -> None:
    admitted: list[int] = []
    for arrival, decision in run(scenario):
        if decision.admitted:
            admitted.append(ms(decision.at))
            continue
        opens = arrival + ms(decision.retry_after)
        assert opens > arrival
        assert admitted_in_window_ending(admitted, opens, scenario.period_ms) < scenario.limit
        assert admitted_in_window_ending(admitted, opens - 1, scenario.period_ms) >= scenario.limit


@CHECKS
@given(scenarios())
def test_a_caller_that_keeps_within_the_limit_is_never_refused(scenario: Scenario) -> None:
    # Keep only the calls a self-throttling client would make: none that would put more than
    # `limit` calls into any window of `period`.
    kept_arrivals: list[int] = []
    kept_processes: list[int] = []
    for arrival, process in zip(scenario.arrivals, scenario.processes, strict=True):
        in_window = admitted_in_window_ending(kept_arrivals, arrival, scenario.period_ticks)
        if in_window < scenario.limit:
            kept_arrivals.append(arrival)
            kept_processes.append(process)
    polite = Scenario(scenario.limit, scenario.period_ticks, kept_arrivals, kept_processes, scenario.lags)

    assert all(d.admitted for _, d in run(polite))


@CHECKS
@given(scenarios(max_lag=16))
def test_processes_with_lagging_clocks_never_exceed_the_limit_in_the_log(scenario: Scenario) -> None:
    results = run(scenario)

    stamps = [ms(d.at) for _, d in results if d.admitted]
    assert most_in_any_window(stamps, scenario.period_ms) <= scenario.limit
    recorded: list[int] = []
    for seen, decision in results:
        if decision.admitted:
            assert ms(decision.at) >= max([seen, *recorded])  # never before the newest admission
            recorded.append(ms(decision.at))
        else:
            # Refused by its own clock: `limit` admissions recorded after (seen - period).
            assert sum(1 for s in recorded if s > seen - scenario.period_ms) >= scenario.limit
