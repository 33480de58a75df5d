"""The messaging semantic conventions of OpenTelemetry for our Kafka spans (the constants of
`opentelemetry-semantic-conventions`, its schema 1.44): what a consumed message is, and the
attributes of its `process` and `send` spans.

A consumer span is `process <topic>` (CONSUMER), a producer span `send <topic>` (PRODUCER);
both carry `messaging.system=kafka`, `messaging.operation.type` and `.name`, and
`messaging.destination.name`; a consumed message adds its partition, offset, key, body size
and the consumer group. A key is recorded only when it is UTF-8 text (our keys are
`tenant:integration:record`, `syncmodel.topics`), as the conventions ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_MESSAGE_BODY_SIZE,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
    MessagingOperationTypeValues,
    MessagingSystemValues,
)
from opentelemetry.util.types import AttributeValue

Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None

KAFKA: Final = MessagingSystemValues.KAFKA.value
PROCESS: Final = MessagingOperationTypeValues.PROCESS.value
SEND: Final = MessagingOperationTypeValues.SEND.value
# The headers that carry a trace (W3C trace context, and baggage between our own stages).
TRACE_HEADERS: Final = frozenset({"traceparent", "tracestate", "baggage"})


@dataclass(frozen=True, slots=True)
class Consumed:
    """One consumed message, as far as its span is concerned."""

    topic: str
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    headers: Headers = None
    group: str | None = None
    size: int | None = None

    @classmethod
    def of(cls, message: Any, group: str) -> Consumed:
        """From a faust `Message` or an aiokafka `ConsumerRecord` (the same field names)."""
        value = message.value
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            headers=message.headers,
            group=group,
            size=len(value) if isinstance(value, bytes | bytearray) else None,
        )

    @property
    def span_name(self) -> str:
        return f"{PROCESS} {self.topic}"

    def attributes(self) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {
            MESSAGING_SYSTEM: KAFKA,
            MESSAGING_OPERATION_TYPE: PROCESS,
            MESSAGING_OPERATION_NAME: PROCESS,
            MESSAGING_DESTINATION_NAME: self.topic,
        }
        if self.partition is not None:
            out[MESSAGING_DESTINATION_PARTITION_ID] = str(self.partition)
        if self.offset is not None:
            out[MESSAGING_KAFKA_OFFSET] = self.offset
        if self.group:
            out[MESSAGING_CONSUMER_GROUP_NAME] = self.group
        if self.size is not None:
            out[MESSAGING_MESSAGE_BODY_SIZE] = self.size
        if (key := text_key(self.key)) is not None:
            out[MESSAGING_KAFKA_MESSAGE_KEY] = key
        return out


def sent(topic: str, key: bytes | None, count: int) -> dict[str, AttributeValue]:
    """The attributes of a `send <topic>` span."""
    out: dict[str, AttributeValue] = {
        MESSAGING_SYSTEM: KAFKA,
        MESSAGING_OPERATION_TYPE: SEND,
        MESSAGING_OPERATION_NAME: SEND,
        MESSAGING_DESTINATION_NAME: topic,
    }
    if count != 1:
        out[MESSAGING_BATCH_MESSAGE_COUNT] = count
    elif (text := text_key(key)) is not None:
        out[MESSAGING_KAFKA_MESSAGE_KEY] = text
    return out


def text_key(key: bytes | None) -> str | None:
    """A key's text, None when it has none (not set, or not UTF-8)."""
    if key is None:
        return None
    try:
        return key.decode()
    except UnicodeDecodeError:
        return None


def carrier(headers: Headers) -> dict[str, str]:
    """The trace headers among a message's headers, as text."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, value in items:
        if key in TRACE_HEADERS and value is not None:
            out[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return out
