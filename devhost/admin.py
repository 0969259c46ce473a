"""Running a non-HTTP function on demand, as the host's admin API does for
`POST /admin/functions/{name}` with `{"input": "..."}` ("Manually run a non HTTP-triggered function";
`AdminController.Invoke` in azure-functions-host):

* The name is matched ignoring case; an unknown name is 404.
* The invocation is started in the background (`Task.Run`) and the request answers 202 at once.
* The trigger value is built from `input` by the trigger's binding: a timer function gets a
  `TimerInfo` with its schedule, no status, not past due (`TimerTriggerBinding.BindAsync`); a queue
  function gets a message whose text is `input` (`StringToStorageQueueMessageConverter`: no id, no
  pop receipt, DequeueCount 0, not decoded). Nothing goes through a queue, so there is no retry.
* It goes straight to the function, not through the trigger's listener: a manual run of a timer
  function does not wait for (or hold off) a scheduled one, and does not move its schedule on.

HTTP-triggered functions are not run here (they are called over their own route): 404.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from azure.functions.queue import QueueMessage as FunctionsQueueMessage

from devhost.functions import FunctionTarget, Invoker, QueueFunction, TimerFunction
from devhost.timers import manual_timer_request

log = logging.getLogger("devhost")

MAX_CONCURRENT_RUNS = 4


class OnDemandRunner:
    """Runs functions named by admin requests on a small pool of threads."""

    def __init__(self, invoker: Invoker, queues: Sequence[QueueFunction], timers: Sequence[TimerFunction]) -> None:
        self.invoker = invoker
        self._functions: dict[str, tuple[FunctionTarget, Callable[[str | None], object]]] = {}
        for queue in queues:
            self._functions[queue.target.name.casefold()] = (queue.target, _queue_message)
        for timer in timers:
            self._functions[timer.target.name.casefold()] = (timer.target, _timer_request)
        self._pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_RUNS, thread_name_prefix="admin-invoke")
        self._closing = False
        self._running = 0
        self._idle = threading.Condition()

    def submit(self, name: str, input_text: str | None) -> bool:
        """Start `name` with `input_text`; False when there is no such non-HTTP function."""
        entry = self._functions.get(name.casefold())
        if entry is None:
            return False
        target, trigger_value = entry
        with self._idle:
            if self._closing:
                log.info("Not running %s: the host is shutting down", target.name)
                return True
            self._running += 1
            self._pool.submit(self._run, target, trigger_value(input_text))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Start nothing more (runs still waiting for a thread return at once); give running ones up
        to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            self._closing = True
        self._pool.shutdown(wait=False)
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            left = self._running
        if left:
            log.warning("%d function(s) started through the admin API were still running at shutdown", left)

    def _run(self, target: FunctionTarget, trigger_value: object) -> None:
        try:
            with self._idle:
                if self._closing:
                    return
            self.invoker.invoke(target, trigger_value, details="Reason=admin")
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()


def _timer_request(input_text: str | None) -> object:
    return manual_timer_request()


def _queue_message(input_text: str | None) -> object:
    return FunctionsQueueMessage(  # type: ignore[no-untyped-call]
        id=None, body=(input_text or "").encode("utf-8"), dequeue_count=0, pop_receipt=None
    )
