"""Storage queue triggers with the semantics of the queue extension (Microsoft.Azure.WebJobs.Extensions
.Storage.Queues 5.x, the one in extension bundle 4.x), which are:

* Polling (`QueueListener`): fetch up to `batchSize` messages with a 10-minute visibility timeout and
  process them in parallel; fetch again straight away while no more than `newBatchThreshold` are in
  flight, so at most `batchSize + newBatchThreshold` run at once. When a fetch finds nothing, wait with
  a randomized exponential back-off from 100 ms up to `maxPollingInterval`; the first empty poll after
  messages waits the minimum again.
* While a function runs longer than half the 10 minutes, the message's visibility is renewed.
* Decoding: with `messageEncoding` "base64" the body is base64-decoded; a message that fails to
  decode is moved to the poison queue at once, without invoking the function (the extension's
  `MessageDecodingFailed` handler). With "none" the text is passed as is (UTF-8 bytes).
* Completion (`QueueProcessor`): success deletes the message. A failure with
  `DequeueCount >= maxDequeueCount` copies the original message text to `<queue>-poison` (created if
  missing) and deletes the message; a smaller count makes the message visible again after
  `visibilityTimeout`. A message fetched with a DequeueCount already above the maximum is poisoned
  without invoking the function.
* A queue whose name ends in "-poison", or is too long for the suffix, has no poison queue: a failed
  message stays invisible until the 10 minutes pass ("to prevent a fast infinite loop").
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionsQueueMessage

from devhost.config import MIN_POLLING_INTERVAL_SECONDS, QueueOptions
from devhost.functions import Invoker, QueueFunction

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient, QueueMessage

log = logging.getLogger("devhost.queues")

PROCESSING_VISIBILITY_SECONDS = 600
"""`QueueListener` fetches messages invisible for 10 minutes and renews that while the function runs."""
RENEW_AFTER_SECONDS = PROCESSING_VISIBILITY_SECONDS / 2
"""Renew when halfway to expiring, as the listener's visibility timer does."""
RENEW_RETRY_SECONDS = 60.0
"""After a failed renewal, try again a minute later (`MinimumVisibilityRenewalInterval`)."""
POISON_SUFFIX = "-poison"
MAX_QUEUE_NAME_LENGTH = 63


def poison_queue_name(queue_name: str) -> str | None:
    if queue_name.endswith(POISON_SUFFIX) or len(queue_name) + len(POISON_SUFFIX) > MAX_QUEUE_NAME_LENGTH:
        return None
    return queue_name + POISON_SUFFIX


def decode_message(text: str, encoding: str) -> bytes:
    """The body the function gets. Raises ValueError when a base64 queue holds something else."""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        # Convert.FromBase64String ignores white space but is otherwise strict.
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("message is not valid base64") from None


class PollingBackoff:
    """`RandomizedExponentialBackoffStrategy`: after an empty poll wait min + min * 2^(n-1) * r with
    r in [0.8, 1.2), n counting the empty polls in a row, capped at the maximum; after a poll that
    found messages, the minimum again."""

    def __init__(self, minimum: float, maximum: float, random_factor: Callable[[], float] = random.random) -> None:
        self.minimum = minimum
        self.maximum = max(maximum, minimum)
        self._random = random_factor
        self._exponent = 1
        self._current = 0.0

    def next_delay(self, found_messages: bool) -> float:
        if found_messages:
            self._exponent = 1
            self._current = 0.0
            return self.minimum
        if self._current != self.maximum:
            factor = 0.8 + 0.4 * self._random()
            delay = self.minimum + factor * 2 ** (self._exponent - 1) * self.minimum
            if delay < self.maximum:
                self._current = delay
                self._exponent += 1
            else:
                self._current = self.maximum
        return self._current


@dataclass
class _Lease:
    """One message being processed: its latest pop receipt (renewals change it)."""

    message_id: str
    pop_receipt: str
    renew_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False


class QueuePoller:
    """Runs one queue-triggered function against its queue."""

    def __init__(
        self,
        function: QueueFunction,
        options: QueueOptions,
        invoker: Invoker,
        queue: QueueClient,
        poison_queue: QueueClient | None,
    ) -> None:
        self.function = function
        self.options = options
        self.invoker = invoker
        self.queue = queue
        self.poison_queue = poison_queue
        self._stop = threading.Event()
        self._in_flight = 0
        self._capacity = threading.Condition()
        self._leases: dict[str, _Lease] = {}
        self._leases_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=options.max_concurrency, thread_name_prefix=f"queue-{function.queue_name}"
        )
        self._backoff = PollingBackoff(MIN_POLLING_INTERVAL_SECONDS, options.max_polling_interval)
        self._threads = [
            threading.Thread(target=self._poll_loop, name=f"poll-{function.queue_name}", daemon=True),
            threading.Thread(target=self._renew_loop, name=f"renew-{function.queue_name}", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop fetching, then give running invocations up to `timeout` seconds to finish (their
        messages are completed as usual). Messages still running after that become visible again when
        their visibility timeout ends."""
        self._stop.set()
        with self._capacity:
            self._capacity.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._capacity:
            while self._in_flight and time.monotonic() < deadline:
                self._capacity.wait(deadline - time.monotonic())
            left = self._in_flight
        if left:
            log.warning("%d message(s) of queue %s were still being processed at shutdown", left, self.queue_name)
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def queue_name(self) -> str:
        return self.function.queue_name

    # --- polling ---------------------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        queue_ready = False
        found_since_last_delay = False
        while not self._stop.is_set():
            try:
                if not queue_ready:
                    _create_if_missing(self.queue)
                    queue_ready = True
                self._wait_for_capacity()
                if self._stop.is_set():
                    break
                messages = self._receive()
            except AzureError as exc:
                if isinstance(exc, ResourceNotFoundError):
                    queue_ready = False  # deleted under us: create it again
                log.warning("Polling queue %s failed: %s", self.queue_name, _describe(exc))
                self._stop.wait(self._backoff.next_delay(False))
                continue
            except Exception:
                log.exception("Polling queue %s failed", self.queue_name)
                self._stop.wait(self._backoff.next_delay(False))
                continue
            if not messages:
                self._stop.wait(self._backoff.next_delay(found_since_last_delay))
                found_since_last_delay = False
                continue
            found_since_last_delay = True
            for message in messages:
                with self._capacity:
                    self._in_flight += 1
                try:
                    self._pool.submit(self._process, message)
                except RuntimeError:  # shut down meanwhile: the message reappears after its timeout
                    return

    def _wait_for_capacity(self) -> None:
        """Fetch the next batch only when no more than newBatchThreshold messages are in flight."""
        with self._capacity:
            while self._in_flight > self.options.new_batch_threshold and not self._stop.is_set():
                self._capacity.wait()

    def _receive(self) -> list[QueueMessage]:
        pages = self.queue.receive_messages(
            messages_per_page=self.options.batch_size, visibility_timeout=PROCESSING_VISIBILITY_SECONDS
        ).by_page()
        page = next(pages, None)  # one request: up to batch_size messages
        return list(page) if page is not None else []

    # --- processing ------------------------------------------------------------------------------------

    def _process(self, message: QueueMessage) -> None:
        lease = _Lease(
            message_id=message.id,
            pop_receipt=message.pop_receipt or "",
            renew_at=time.monotonic() + RENEW_AFTER_SECONDS,
        )
        with self._leases_lock:
            self._leases[message.id] = lease
        try:
            self._process_leased(message, lease)
        except Exception:
            log.exception("Completing message %s of queue %s failed", message.id, self.queue_name)
        finally:
            with lease.lock:
                lease.done = True
            with self._leases_lock:
                self._leases.pop(message.id, None)
            with self._capacity:
                self._in_flight -= 1
                self._capacity.notify_all()

    def _process_leased(self, message: QueueMessage, lease: _Lease) -> None:
        dequeue_count = message.dequeue_count or 1
        options = self.options
        if dequeue_count > options.max_dequeue_count:
            self._poison(message, lease, f"its DequeueCount {dequeue_count} exceeds MaxDequeueCount")
            return
        text: str = message.content if isinstance(message.content, str) else str(message.content or "")
        try:
            body = decode_message(text, options.message_encoding)
        except ValueError:
            self._poison(message, lease, "it is not valid base64 (messageEncoding is base64)")
            return

        trigger = FunctionsQueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        # The log names the message, never its body (it may hold personal data).
        succeeded = self.invoker.invoke(
            self.function.target, trigger, details=f"MessageId={message.id}, DequeueCount={dequeue_count}"
        )

        if succeeded:
            self._delete(lease)
        elif self.poison_queue is None:
            pass  # no poison queue: leave the message invisible (see the module docstring)
        elif dequeue_count >= options.max_dequeue_count:
            self._poison(message, lease, f"it has reached MaxDequeueCount of {options.max_dequeue_count}")
        else:
            self._release(lease)

    def _poison(self, message: QueueMessage, lease: _Lease, reason: str) -> None:
        _settle(lease)
        if self.poison_queue is None:
            return
        log.warning("Moving message %s to queue '%s': %s", message.id, self.poison_queue.queue_name, reason)
        # The original text, still encoded: a base64 message stays base64 in the poison queue.
        try:
            self.poison_queue.send_message(message.content)
        except ResourceNotFoundError:
            _create_if_missing(self.poison_queue)
            self.poison_queue.send_message(message.content)
        self._delete(lease)

    def _delete(self, lease: _Lease) -> None:
        _settle(lease)
        try:
            self.queue.delete_message(lease.message_id, lease.pop_receipt)
        except ResourceNotFoundError:
            log.debug("Message %s or queue %s is gone already", lease.message_id, self.queue_name)
        except HttpResponseError as exc:
            if getattr(exc, "error_code", None) != "PopReceiptMismatch":
                raise
            log.debug("Message %s was taken over by another receiver", lease.message_id)

    def _release(self, lease: _Lease) -> None:
        _settle(lease)
        try:
            self.queue.update_message(
                lease.message_id,
                lease.pop_receipt,
                visibility_timeout=round(self.options.visibility_timeout),
            )
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if getattr(exc, "error_code", None) != "PopReceiptMismatch":
                raise

    # --- visibility renewal ------------------------------------------------------------------------------

    def _renew_loop(self) -> None:
        while not self._stop.wait(1.0):
            now = time.monotonic()
            with self._leases_lock:
                due = [lease for lease in self._leases.values() if lease.renew_at <= now]
            for lease in due:
                self._renew(lease)

    def _renew(self, lease: _Lease) -> None:
        with lease.lock:
            if lease.done:
                return
            try:
                receipt = self.queue.update_message(
                    lease.message_id, lease.pop_receipt, visibility_timeout=PROCESSING_VISIBILITY_SECONDS
                )
            except AzureError as exc:
                log.warning("Renewing the visibility of message %s failed: %s", lease.message_id, _describe(exc))
                lease.renew_at = time.monotonic() + RENEW_RETRY_SECONDS
                return
            lease.pop_receipt = receipt.pop_receipt or lease.pop_receipt
            lease.renew_at = time.monotonic() + RENEW_AFTER_SECONDS


def create_pollers(
    functions: Sequence[QueueFunction],
    options: QueueOptions,
    invoker: Invoker,
    environ: Mapping[str, str],
) -> list[QueuePoller]:
    """One poller per queue-triggered function, its connection resolved like the app's own
    (`shared.adapters.storage`: a connection string, or identity-based `<name>__accountName`)."""
    from shared.adapters.storage import StorageAccount, StorageConnection
    from shared.config import ConfigError

    accounts: dict[str, StorageAccount] = {}
    pollers = []
    for function in functions:
        account = accounts.get(function.connection)
        if account is None:
            try:
                connection = StorageConnection.from_env(function.connection, environ)
            except ConfigError as exc:
                log.error("Function %s is not run: %s", function.target.name, exc)
                continue
            account = StorageAccount(connection)
            accounts[function.connection] = account
        service = account.queue_service
        poison_name = poison_queue_name(function.queue_name)
        pollers.append(
            QueuePoller(
                function,
                options,
                invoker,
                queue=service.get_queue_client(function.queue_name),
                poison_queue=service.get_queue_client(poison_name) if poison_name else None,
            )
        )
    return pollers


def _settle(lease: _Lease) -> None:
    """Stop renewing: once this returns, no renewal is under way and the pop receipt is final."""
    with lease.lock:
        lease.done = True


def _create_if_missing(queue: QueueClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()


def _describe(exc: BaseException) -> str:
    """A one-line description of a storage error: its type and first line (no request details)."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
