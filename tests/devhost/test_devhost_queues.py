"""Queue triggers against Azurite: delivery, deletion, retries, the poison queue and message encoding."""

from __future__ import annotations

import base64
import time
import uuid

import requests
from azure.core.exceptions import ResourceNotFoundError

from tests.support.devhost_helpers import MAX_DEQUEUE_COUNT, Delivery, SampleHost, wait_until


def _poison_contents(host: SampleHost) -> list[str]:
    try:
        return [str(message.content) for message in host.poison_queue().peek_messages(max_messages=32)]
    except ResourceNotFoundError:  # devhost creates the poison queue when it first needs it
        return []


def test_a_message_is_delivered_decoded_once_and_deleted(sample_host: SampleHost) -> None:
    text = f"hello é {uuid.uuid4().hex}"
    sent = sample_host.queue(encode_base64=True).send_message(text)

    deliveries = wait_until(lambda: sample_host.deliveries_of(sent.id), what="the delivery")
    assert deliveries == [Delivery(sent.id, text.encode("utf-8"), 1)]
    # Deleted, not merely hidden: the count includes invisible messages.
    wait_until(lambda: sample_host.message_count() == 0, what="the message to be deleted")
    assert sample_host.deliveries_of(sent.id) == deliveries


def test_a_failing_message_is_tried_max_dequeue_count_times_then_poisoned(sample_host: SampleHost) -> None:
    text = f"fail {uuid.uuid4().hex}"
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    sent = sample_host.queue(encode_base64=False).send_message(encoded)

    wait_until(lambda: encoded in _poison_contents(sample_host), what="the message in the poison queue")
    time.sleep(1.5)  # longer than maxPollingInterval: a wrongful extra attempt would show up by now
    attempts = sample_host.deliveries_of(sent.id)
    assert [d.dequeue_count for d in attempts] == list(range(1, MAX_DEQUEUE_COUNT + 1))
    assert {d.body for d in attempts} == {text.encode("utf-8")}
    # The poison queue holds the original (still encoded) text, once, and the queue is empty.
    assert _poison_contents(sample_host).count(encoded) == 1
    assert sample_host.message_count() == 0
    log = sample_host.devhost.log_text()
    assert "ValueError: asked to fail" in log
    assert text not in log  # failures are logged with the exception, not the body


def test_a_message_that_is_not_base64_is_poisoned_without_invoking(sample_host: SampleHost) -> None:
    text = f"not base64 {uuid.uuid4().hex}!"
    sent = sample_host.queue(encode_base64=False).send_message(text)

    wait_until(lambda: text in _poison_contents(sample_host), what="the message in the poison queue")
    assert sample_host.deliveries_of(sent.id) == []
    wait_until(lambda: sample_host.message_count() == 0, what="the message to leave the queue")


def test_with_encoding_none_the_text_is_passed_as_is(plain_host: SampleHost) -> None:
    looks_encoded = base64.b64encode(b"would be decoded").decode("ascii")
    plain = f"plain text é {uuid.uuid4().hex}"
    queue = plain_host.queue(encode_base64=False)
    first = queue.send_message(looks_encoded)
    second = queue.send_message(plain)

    assert wait_until(lambda: plain_host.deliveries_of(first.id), what="the first delivery") == [
        Delivery(first.id, looks_encoded.encode("ascii"), 1)
    ]
    assert wait_until(lambda: plain_host.deliveries_of(second.id), what="the second delivery") == [
        Delivery(second.id, plain.encode("utf-8"), 1)
    ]
    wait_until(lambda: plain_host.message_count() == 0, what="the messages to be deleted")


def test_the_admin_api_runs_a_queue_function_with_the_input_as_its_message(sample_host: SampleHost) -> None:
    text = f"on demand {uuid.uuid4().hex}"
    response = requests.post(
        f"{sample_host.base_url}/admin/functions/Record_Delivery", json={"input": text}, timeout=10
    )
    assert response.status_code == 202

    def delivered() -> list[Delivery]:
        return [d for d in sample_host.deliveries() if d.body == text.encode("utf-8")]

    # The input is the message as the function sees it: not base64-decoded, never dequeued.
    assert [d.dequeue_count for d in wait_until(delivered, what="the on-demand delivery")] == [0]
    assert sample_host.message_count() == 0  # nothing went through the queue
