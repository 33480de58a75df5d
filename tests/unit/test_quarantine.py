"""The quarantine's pure rules: whose a message is, what is an outage (wait) and what is the
message's own (quarantine), and the relay's reading of a due time that does not read."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ResponseError

from incident_sync.outbound.durable import infrastructure
from incident_sync.outbound.stages.delivery.ladder import NOT_BEFORE
from incident_sync.outbound.stages.relay.relay import due_at
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, DeliveryCommand
from incident_sync.syncstate.quarantine import (
    Message,
    QuarantineEntry,
    Stage,
    attribute,
    entry_id,
    too_large,
)

SIDES = {"incidentio", "prod-snow", "prod-jira"}


def wrapped(exc: Exception) -> ProducerSendError:
    """As faust raises a producer's error."""
    try:
        raise ProducerSendError(f"Error while sending: {exc!r}") from exc
    except ProducerSendError as outer:
        return outer


def test_a_record_too_large_is_the_messages_however_wrapped_and_an_outage_is_waited_out() -> None:
    size = MessageSizeTooLargeError("too big")
    assert too_large(size) and too_large(wrapped(size))
    assert not infrastructure(size) and not infrastructure(wrapped(size))
    for outage in (KafkaTimeoutError(), RedisConnectionError(), OutOfMemoryError("OOM")):
        assert infrastructure(outage) and infrastructure(wrapped(outage))
    for own in (ResponseError("WRONGTYPE"), ValueError("bad"), KeyError("x")):
        assert not infrastructure(own) and not too_large(own)


def test_whose_a_message_is() -> None:
    change = ChangeEvent(
        delivery_id="d", integration_id="prod-jira", external_id="1", kind=ChangeKind.UPDATED
    )
    to_platform = DeliveryCommand(
        causation_id="e",
        platform_incident_id="I",
        source_integration_id="prod-snow",
        target_integration_id="incidentio",
    )
    cases = [
        (Message(topics.OBSERVATIONS, codec.encode(change)), "prod-jira"),
        (Message(topics.COMMANDS, codec.encode(to_platform)), "prod-snow"),  # the DLQ's owner
        (
            Message(topics.OBSERVATIONS, b"{", headers=(("integration-id", b"prod-snow"),)),
            "prod-snow",
        ),
        (Message(topics.COMMANDS, b"\xff", key=b"default:prod-jira:10001"), "prod-jira"),
        (Message(topics.LINKED, b"{", key=b"default:INC-1"), None),
        (Message(topics.OBSERVATIONS, b"{", key=b"default:not-a-side:1"), None),
    ]
    for message, whose in cases:
        assert attribute(message, SIDES, "incidentio") == whose, message


def test_an_entry_keeps_the_original_record_and_its_place() -> None:
    read = Message(
        topics.OBSERVATIONS, b"\xff\x00", key=b"k", headers=(("h", b"\x01"),), partition=3, offset=7
    )
    entry = QuarantineEntry.of(
        Stage.GATE, read, wrapped(MessageSizeTooLargeError("big")), tenant="t", integration_id=None
    )
    assert entry.original() == (b"k", b"\xff\x00", [("h", b"\x01")])
    assert entry.error_type == "MessageSizeTooLargeError"  # not faust's wrapper
    assert (entry.retry_topic, entry.source_topic, entry.offset) == (topics.OBSERVATIONS,) * 2 + (
        7,
    )
    assert entry.bucket == "gate|-"
    assert entry.id == entry_id(Stage.GATE, read)  # a redelivery takes its place
    assert entry.id != entry_id(
        Stage.GATE, Message(topics.OBSERVATIONS, b"", partition=3, offset=8)
    )
    polled = Message(topics.OBSERVATIONS, b"v1", key=b"k", headers=(("delivery-id", b"poll:1"),))
    again = Message(topics.OBSERVATIONS, b"v2", key=b"k", headers=(("delivery-id", b"poll:1"),))
    assert entry_id(Stage.RECONCILER, polled) == entry_id(Stage.RECONCILER, again)


@pytest.mark.parametrize(
    ("headers", "value", "due"),
    [
        ([(NOT_BEFORE, b"5000")], b"{}", 5.0),
        ([(NOT_BEFORE, b"soon")], b'{"not_before": "1970-01-01T00:00:07+00:00"}', 7.0),
        ([(NOT_BEFORE, b"9" * 400)], b"{}", 0.0),
        ([], b'["a list"]', 0.0),
        ([], b'{"not_before": "not a time"}', 0.0),
        ([], b"\xff", 0.0),
    ],
)
def test_a_due_time_that_does_not_read_is_now(
    headers: list[tuple[str, bytes]], value: bytes, due: float
) -> None:
    record = ConsumerRecord(
        topic="sync.retry.1", partition=0, offset=0, timestamp=0, timestamp_type=0, key=b"k",
        value=value, checksum=None, serialized_key_size=1, serialized_value_size=len(value),
        headers=headers,
    )  # fmt: skip
    assert due_at(record) == due
