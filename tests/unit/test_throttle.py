"""The per-connection throttle: never more than `limit` calls in any `period`, never a refusal for a
caller who stays within it, whatever the clocks and however many processes decide at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.platform.throttle import Contended, Decision, SlidingWindowLimiter
from tests.support.fakes import FakeWindowStore
from tests.support.throttle import (
    SecondsClock,
    admitted_in_window_ending,
    admitted_ms,
    most_in_any_window,
    ms,
    no_sleep,
)

KEY = "key-1"


@pytest.fixture
def store() -> FakeWindowStore:
    return FakeWindowStore()


@pytest.fixture
def clock() -> SecondsClock:
    return SecondsClock(100.0)


@pytest.fixture
def limiter(store: FakeWindowStore, clock: SecondsClock) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(store, clock=clock, sleep=no_sleep)


def calls_at(
    limiter: SlidingWindowLimiter, clock: SecondsClock, times: list[float], limit: int, period: float
) -> list[Decision]:
    decisions = []
    for t in times:
        clock.set(t)
        decisions.append(limiter.admit(KEY, limit, period))
    return decisions


def test_window_checker_counts_calls_in_the_fullest_window() -> None:
    assert most_in_any_window([0, 500, 999, 1000], 1000) == 3
    assert most_in_any_window([900, 900, 900, 1100, 1100, 1100], 1000) == 6
    assert most_in_any_window([0, 1000, 2000], 1000) == 1


def test_admits_exactly_limit_calls_then_refuses(limiter: SlidingWindowLimiter) -> None:
    decisions = [limiter.admit(KEY, 3, 10) for _ in range(5)]

    assert [d.admitted for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    assert [d.retry_after for d in decisions[:3]] == [0.0, 0.0, 0.0]


def test_refused_calls_do_not_use_up_the_budget(limiter: SlidingWindowLimiter, clock: SecondsClock) -> None:
    first = calls_at(limiter, clock, [0.0, 0.0], limit=2, period=1)
    refused = calls_at(limiter, clock, [0.5] * 10, limit=2, period=1)
    later = calls_at(limiter, clock, [1.0, 1.0, 1.0], limit=2, period=1)

    assert all(d.admitted for d in first)
    assert not any(d.admitted for d in refused)
    assert [d.admitted for d in later] == [True, True, False]


def test_connections_are_throttled_independently(limiter: SlidingWindowLimiter) -> None:
    assert limiter.admit("a", 1, 60).admitted
    assert not limiter.admit("a", 1, 60).admitted

    assert limiter.admit("b", 1, 60).admitted


def test_retry_after_is_the_time_until_the_oldest_admission_leaves_the_window(
    limiter: SlidingWindowLimiter, clock: SecondsClock
) -> None:
    calls_at(limiter, clock, [1.0, 3.0], limit=2, period=10)

    [refused] = calls_at(limiter, clock, [4.0], limit=2, period=10)
    [still_refused] = calls_at(limiter, clock, [10.875], limit=2, period=10)
    [admitted] = calls_at(limiter, clock, [4.0 + refused.retry_after], limit=2, period=10)
    [next_refused] = calls_at(limiter, clock, [11.0], limit=2, period=10)

    assert not refused.admitted
    assert refused.retry_after == pytest.approx(7.0)
    assert refused.retry_after_header == "7"
    assert not still_refused.admitted
    assert still_refused.retry_after == pytest.approx(0.125)
    assert admitted.admitted
    assert admitted.at == pytest.approx(11.0)
    assert not next_refused.admitted
    assert next_refused.retry_after == pytest.approx(2.0)  # until the admission at 3.0 leaves


def test_retry_after_of_a_full_burst_is_one_period(limiter: SlidingWindowLimiter, clock: SecondsClock) -> None:
    decisions = calls_at(limiter, clock, [5.0, 5.0, 5.0, 5.0], limit=3, period=10)

    assert decisions[-1].retry_after == pytest.approx(10.0)


def test_retry_after_header_is_whole_seconds_rounded_up_and_at_least_one(
    limiter: SlidingWindowLimiter, clock: SecondsClock
) -> None:
    calls_at(limiter, clock, [0.0], limit=1, period=2.5)

    [soon] = calls_at(limiter, clock, [2.375], limit=1, period=2.5)
    [later] = calls_at(limiter, clock, [0.25], limit=1, period=2.5)

    assert soon.retry_after == pytest.approx(0.125)
    assert soon.retry_after_header == "1"
    assert later.retry_after == pytest.approx(2.25)
    assert later.retry_after_header == "3"


def test_window_slides_so_a_burst_across_a_boundary_is_not_doubled(
    limiter: SlidingWindowLimiter, clock: SecondsClock
) -> None:
    # A fixed window starting at each whole second would admit all six calls at 0.875 and 1.125.
    decisions = calls_at(limiter, clock, [0.875] * 3 + [1.125] * 3 + [1.875] * 3, limit=3, period=1)

    assert [d.admitted for d in decisions] == [True] * 3 + [False] * 3 + [True] * 3
    assert most_in_any_window(admitted_ms(decisions), 1000) == 3


def test_calls_spread_across_many_windows_never_exceed_the_limit_in_any_period(
    limiter: SlidingWindowLimiter, clock: SecondsClock
) -> None:
    times = [i * 0.125 for i in range(80)]  # 8 calls a second for 10 seconds, limit 5 a second

    decisions = calls_at(limiter, clock, times, limit=5, period=1)

    stamps = admitted_ms(decisions)
    assert most_in_any_window(stamps, 1000) == 5
    for d in decisions:
        if not d.admitted:
            assert admitted_in_window_ending(stamps, ms(d.at), 1000) == 5


def test_caller_pacing_at_exactly_limit_per_period_is_never_refused(
    limiter: SlidingWindowLimiter, clock: SecondsClock
) -> None:
    times = [i * 0.25 for i in range(100)]  # 4 a second, the limit

    decisions = calls_at(limiter, clock, times, limit=4, period=1)

    assert all(d.admitted for d in decisions)


def test_caller_bursting_the_full_limit_once_per_period_is_never_refused(
    limiter: SlidingWindowLimiter, clock: SecondsClock
) -> None:
    times = [burst * 2.5 for burst in range(10) for _ in range(4)]

    decisions = calls_at(limiter, clock, times, limit=4, period=2.5)

    assert all(d.admitted for d in decisions)


def test_admission_is_recorded_no_earlier_than_a_later_one_already_in_the_log(
    store: FakeWindowStore, clock: SecondsClock
) -> None:
    ahead = SlidingWindowLimiter(store, clock=SecondsClock(50.0), sleep=no_sleep)
    behind = SlidingWindowLimiter(store, clock=SecondsClock(49.5), sleep=no_sleep)  # this instance lags 0.5 s
    first = ahead.admit(KEY, 3, 10)

    second = behind.admit(KEY, 3, 10)

    assert second.admitted
    assert second.at >= first.at
    assert store.stamps(KEY) == sorted(store.stamps(KEY))
    assert most_in_any_window(store.stamps(KEY), 10_000) == 2


def test_lagging_clock_counts_admissions_recorded_ahead_of_it(store: FakeWindowStore) -> None:
    SlidingWindowLimiter(store, clock=SecondsClock(50.0), sleep=no_sleep).admit(KEY, 1, 10)

    lagging = SlidingWindowLimiter(store, clock=SecondsClock(45.0), sleep=no_sleep).admit(KEY, 1, 10)

    assert not lagging.admitted


def test_lagging_clock_cannot_reopen_the_window_early(store: FakeWindowStore) -> None:
    # The lagging instance records its admission at 50.0 (the newest in the log), not at 45.0, so an
    # instance with a correct clock still sees it in the window at 58.0.
    SlidingWindowLimiter(store, clock=SecondsClock(50.0), sleep=no_sleep).admit(KEY, 2, 10)
    SlidingWindowLimiter(store, clock=SecondsClock(45.0), sleep=no_sleep).admit(KEY, 2, 10)

    at_58 = SlidingWindowLimiter(store, clock=SecondsClock(58.0), sleep=no_sleep).admit(KEY, 2, 10)

    assert not at_58.admitted


def test_process_that_wrote_the_log_last_admits_its_next_calls_without_reading_it_again(
    store: FakeWindowStore, limiter: SlidingWindowLimiter
) -> None:
    decisions = [limiter.admit(KEY, 5, 10) for _ in range(5)]

    assert all(d.admitted for d in decisions)
    assert store.loads == 1
    assert len(store.stamps(KEY)) == 5


def test_admissions_by_another_process_since_our_last_write_are_counted(store: FakeWindowStore) -> None:
    clock = SecondsClock(100.0)
    here = SlidingWindowLimiter(store, clock=clock, sleep=no_sleep)
    elsewhere = SlidingWindowLimiter(store, clock=clock, sleep=no_sleep)
    assert here.admit(KEY, 2, 10).admitted
    clock.set(101.0)
    assert elsewhere.admit(KEY, 2, 10).admitted

    clock.set(102.0)
    decision = here.admit(KEY, 2, 10)

    assert not decision.admitted
    assert decision.retry_after == pytest.approx(8.0)
    assert len(store.stamps(KEY)) == 2


def test_a_full_window_in_our_own_last_copy_is_checked_against_the_stored_log_before_refusing(
    store: FakeWindowStore,
) -> None:
    # Another process, whose clock runs 11 s ahead, dropped our two admissions from the log as
    # expired. By the stored log there is room, so the call is admitted (at the newest recorded
    # time, which keeps every window of the log within the limit).
    ours = SecondsClock(100.0)
    here = SlidingWindowLimiter(store, clock=ours, sleep=no_sleep)
    earlier = [here.admit(KEY, 2, 10) for _ in range(2)]
    ahead = SlidingWindowLimiter(store, clock=SecondsClock(111.0), sleep=no_sleep).admit(KEY, 2, 10)

    ours.set(105.0)
    decision = here.admit(KEY, 2, 10)

    assert [d.admitted for d in [*earlier, ahead]] == [True, True, True]
    assert decision.admitted
    assert decision.at == pytest.approx(111.0)
    assert most_in_any_window(admitted_ms([*earlier, ahead, decision]), 10_000) == 2


class InterferingStore(FakeWindowStore):
    """Another process admits a call of its own between our read and our write, once."""

    def __init__(self, other_admission_ms: int) -> None:
        super().__init__()
        self._other = other_admission_ms
        self._interfered = False

    def save(self, key: str, stamps: list[int], version: object | None) -> object | None:
        if not self._interfered:
            self._interfered = True
            current, current_version = self.load(key)
            assert super().save(key, [*current, self._other], current_version) is not None
        return super().save(key, stamps, version)


def test_call_that_loses_a_write_race_decides_again_on_fresh_data() -> None:
    store = InterferingStore(other_admission_ms=ms(100.0))
    limiter = SlidingWindowLimiter(store, clock=SecondsClock(100.0), sleep=no_sleep)

    decision = limiter.admit(KEY, 1, 10)

    assert store.conflicts == 1
    assert not decision.admitted
    assert store.stamps(KEY) == [ms(100.0)]


def test_call_that_loses_a_write_race_is_admitted_when_there_is_still_room() -> None:
    store = InterferingStore(other_admission_ms=ms(100.0))
    limiter = SlidingWindowLimiter(store, clock=SecondsClock(100.0), sleep=no_sleep)

    decision = limiter.admit(KEY, 2, 10)

    assert store.conflicts == 1
    assert decision.admitted
    assert decision.remaining == 0
    assert len(store.stamps(KEY)) == 2


class LockstepStore(FakeWindowStore):
    """Holds each thread's first read until every racer has read: all of them see the same version."""

    def __init__(self, racers: int) -> None:
        super().__init__()
        self._barrier = threading.Barrier(racers, timeout=10)
        self._seen: set[int] = set()
        self._seen_lock = threading.Lock()

    def load(self, key: str) -> tuple[list[int], object | None]:
        result = super().load(key)
        with self._seen_lock:
            first = threading.get_ident() not in self._seen
            self._seen.add(threading.get_ident())
        if first:
            self._barrier.wait()
        return result


@pytest.mark.parametrize(("limit", "admitted"), [(1, 1), (2, 2), (3, 2)])
def test_racing_threads_never_admit_more_than_the_limit(limit: int, admitted: int) -> None:
    store = LockstepStore(racers=2)
    limiter = SlidingWindowLimiter(store, clock=SecondsClock(100.0), sleep=no_sleep)

    with ThreadPoolExecutor(max_workers=2) as pool:
        decisions = list(pool.map(lambda _: limiter.admit(KEY, limit, 10), range(2)))

    assert store.conflicts >= 1  # they really raced
    assert sum(d.admitted for d in decisions) == admitted
    assert len(store.stamps(KEY)) == admitted
    assert sorted(d.remaining for d in decisions if d.admitted) == sorted(limit - 1 - i for i in range(admitted))


def test_many_racing_threads_admit_exactly_the_limit() -> None:
    store = LockstepStore(racers=8)
    limiter = SlidingWindowLimiter(store, clock=SecondsClock(100.0), sleep=no_sleep)

    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(lambda _: limiter.admit(KEY, 5, 10), range(8)))

    assert sum(d.admitted for d in decisions) == 5
    assert len(store.stamps(KEY)) == 5


class AlwaysConflicting(FakeWindowStore):
    def save(self, key: str, stamps: list[int], version: object | None) -> object | None:
        self.conflicts += 1
        return None


def test_gives_up_as_contended_after_max_attempts() -> None:
    store = AlwaysConflicting()
    sleeps: list[float] = []
    limiter = SlidingWindowLimiter(store, clock=SecondsClock(100.0), max_attempts=5, sleep=sleeps.append)

    with pytest.raises(Contended):
        limiter.admit(KEY, 3, 10)

    assert store.loads == 5
    assert len(sleeps) == 5
    assert all(0 <= s <= 0.05 for s in sleeps)
