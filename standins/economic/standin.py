"""`EconomicStandin`: the stand-in as tests, the sandbox and benches hold it: its agreements, its
lifecycle (a server thread), failure injection and the record of what was asked."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from standins.economic.agreement import Agreement
from standins.economic.server import _handler_for, _Server
from standins.economic.serving import Seen, _Rule, _Serving


class EconomicStandin(_Serving):
    def __init__(
        self,
        *,
        app_secret_token: str = "app-secret",  # noqa: S107 - a test token
        grant_tokens: Mapping[str, str] | None = None,
        rate_limit: int = 10000,
        rate_window: int = 60,
        call_cost: int = 1,
        latency: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        schema_dir: Path,
        port: int = 0,
    ) -> None:
        """`schema_dir`: e-conomic's published JSON schemas (`economic-schemas` of the reference material),
        which the caller finds. `port` 0: one the OS picks (tests); the local sandbox passes its fixed one
        (raises OSError if taken)."""
        self.app_secret_token = app_secret_token
        self.rate_limit, self.rate_window, self.call_cost = rate_limit, rate_window, call_cost
        self.latency = latency
        self.clock = clock
        self.schema_dir = schema_dir
        self.lock = threading.RLock()
        self._agreements: dict[str, Agreement] = {}
        self._numbers = itertools.count(1000001)
        self._rules: list[_Rule] = []
        self._slow: list[_Rule] = []
        self._create_failures: dict[int, tuple[int, str | None]] = {}
        self._creates = 0
        self._drops: list[tuple[float | None, bool]] = []
        self._answer_drops: list[_Rule] = []
        self._stopping = threading.Event()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.log: list[Seen] = []
        self.forbidden_calls: list[Seen] = []
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        for tenant, token in (grant_tokens or {}).items():
            self.add_agreement(token, tenant=tenant)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> EconomicStandin:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="economic-standin", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> EconomicStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- agreements -----------------------------------------------------------------------------

    def add_agreement(self, grant_token: str, *, tenant: str | None = None) -> Agreement:
        with self.lock:
            agreement = Agreement(self, grant_token, tenant or grant_token, next(self._numbers))
            self._agreements[grant_token] = agreement
            return agreement

    def agreement(self, grant_token_or_tenant: str) -> Agreement:
        with self.lock:
            found = self._agreements.get(grant_token_or_tenant) or next(
                (a for a in self._agreements.values() if a.tenant == grant_token_or_tenant), None
            )
        if found is None:
            raise KeyError(f"no agreement for {grant_token_or_tenant!r}")
        return found

    def revoke(self, grant_token: str) -> None:
        """The agreement withdraws its grant: requests with this token get 401 from now on."""
        with self.lock:
            self._agreements.pop(grant_token, None)

    # --- failure injection ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        path_contains: str | None = None,
        method: str | None = None,
        body: Any = None,
        cached: bool = False,
    ) -> None:
        """The next `times` authorized requests (matching `path_contains`/`method`) answer `status`
        (500, 503, 429...) instead of being served, with `Retry-After` when given (seconds, or a text
        such as an HTTP date, sent as it is) and `body` when given (else an e-conomic error body). With
        `cached`, a POST's or DELETE's answer is kept for its Idempotency-Key and replayed for an hour
        with `X-ResultFromCache: true`, as e-conomic replays a key's first answer (see `_remember`)."""
        with self.lock:
            self._rules.append(_Rule(status, times, retry_after, path_contains, method, body=body, cached=cached))

    def drop_next(
        self,
        times: int = 1,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        """The next `times` matching requests are served, then their answer is lost (the connection is
        closed without one); `after` runs once each was served (someone acting in e-conomic meanwhile)."""
        with self.lock:
            self._answer_drops.append(_Rule(0, times, None, path_contains, method, after=after))

    def slow_next(
        self, seconds: float, times: int = 1, path_contains: str | None = None, method: str | None = None
    ) -> None:
        """The next `times` matching answers are held `seconds` longer (after being served)."""
        with self.lock:
            self._slow.append(_Rule(0, times, None, path_contains, method, seconds))

    def fail_on_create(self, n: int, status: int = 500, message: str | None = None) -> None:
        """The `n`-th successful create from now (POST to a drafts collection, replays not counted) is
        answered `status` (400: an E04300 refusal, 5xx: a server error) and not stored."""
        with self.lock:
            self._create_failures[self._creates + n] = (status, message)

    def drop_after_create(self, times: int = 1, *, hang: float | None = None, remember: bool = True) -> None:
        """The next `times` creates are stored, then the answer is lost: the connection is closed without
        one, or with `hang` held that many seconds first (the client times out). With `remember` the
        created answer is kept for the request's Idempotency-Key, as e-conomic would replay it."""
        with self.lock:
            self._drops.extend([(hang, remember)] * times)

    def clear_failures(self) -> None:
        with self.lock:
            self._rules.clear()
            self._slow.clear()
            self._create_failures.clear()
            self._drops.clear()
            self._answer_drops.clear()

    # --- what was asked -------------------------------------------------------------------------

    def count(self, method: str, template: str) -> int:
        with self.lock:
            return self.calls[(method.upper(), template)]

    def answered(self, status: int) -> int:
        with self.lock:
            return sum(1 for seen in self.log if seen.status == status)

    @property
    def max_tokens_used(self) -> int:
        with self.lock:
            return max((a.max_used for a in self._agreements.values()), default=0)

    @property
    def rate_refusals(self) -> int:
        """429s the bucket gave (not counting `fail_next(429)`)."""
        with self.lock:
            return sum(a.rate_refusals for a in self._agreements.values())

    def reset_log(self) -> None:
        with self.lock:
            self.calls.clear()
            self.log.clear()
