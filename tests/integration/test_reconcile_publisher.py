"""The reconciler's publishing on a real broker and redis-server: a corrective change or polled
snapshot the producer refuses for its size goes to the quarantine (stage `reconciler`, its
bytes kept), the others of the batch are published, and the call succeeds (a poll moves its
watermark on instead of failing on that record for ever). A batch is one `send sync.inbound`
span of the run's (or the pass's), and its records carry it to the gate."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from incident_sync.devstack import processes
from incident_sync.reconciler.publisher import Publisher
from incident_sync.reconciler.settings import ReconcilerSettings
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, Origin
from incident_sync.syncstate.quarantine import ENTRY_HEADER, VALUE_HEADER, QuarantineIndex, Stage

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    child = processes.broker().start()
    try:
        yield f"127.0.0.1:{child.port}"
    finally:
        child.stop()


@pytest.fixture
async def redis(redis_port: int) -> AsyncIterator[Redis]:
    client = Redis.from_url(f"redis://127.0.0.1:{redis_port}/7")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


def snapshot(record: str, description: str) -> ChangeEvent:
    return ChangeEvent(
        delivery_id=f"poll:prod-snow:{record}:1",
        integration_id="prod-snow",
        external_id=record,
        kind=ChangeKind.UPDATED,
        changes={"description": FieldChange(new=description)},
        origin=Origin.RECONCILER,
    )


async def read_all(broker: str, topic: str) -> list[tuple[bytes | None, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[tuple[bytes | None, dict[str, bytes]]] = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out += [(r.value, dict(r.headers)) for r in records]
        return out
    finally:
        await consumer.stop()


async def test_a_change_too_large_to_publish_is_quarantined_and_the_others_are_published(
    broker: str, redis: Redis
) -> None:
    settings = ReconcilerSettings(
        KAFKA_BOOTSTRAP=broker, KAFKA_IDEMPOTENCE=False, KAFKA_TOPIC_PARTITIONS=1
    )
    publisher = Publisher(settings, redis)
    await publisher.start()
    small, huge, after = snapshot("a", "ok"), snapshot("b", "d" * 1_500_000), snapshot("c", "ok")
    try:
        await publisher.publish([small, huge, after])
    finally:
        await publisher.stop()

    published = [
        headers["delivery-id"] for _, headers in await read_all(broker, topics.OBSERVATIONS)
    ]
    assert published == [small.delivery_id.encode(), after.delivery_id.encode()]

    (entry,) = await QuarantineIndex(redis).list("default")
    assert entry.stage is Stage.RECONCILER and entry.integration_id == "prod-snow"
    assert entry.retry_topic == topics.OBSERVATIONS and entry.source_topic is None
    assert entry.error_type == "MessageSizeTooLargeError"
    assert base64.b64decode(entry.value) == codec.encode(huge)
    key, _, headers = entry.original()
    assert key == topics.record_key("default", "prod-snow", "b")
    assert dict(headers)["delivery-id"] == huge.delivery_id.encode()
    # sync.quarantine takes no more than the producer: the record says where the bytes are.
    ((value, record_headers),) = await read_all(broker, topics.QUARANTINE)
    assert value == b"" and VALUE_HEADER in record_headers
    assert entry.id.encode() in record_headers[ENTRY_HEADER]


async def test_a_batch_is_a_send_span_of_the_run_and_its_records_carry_it(
    broker: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    settings = ReconcilerSettings(
        KAFKA_BOOTSTRAP=broker, KAFKA_IDEMPOTENCE=False, KAFKA_TOPIC_PARTITIONS=1
    )
    publisher = Publisher(settings, redis)
    await publisher.start()
    batch = [snapshot("traced-1", "x"), snapshot("traced-2", "y")]
    try:
        with tracing.stage("reconcile", kind=SpanKind.INTERNAL):
            await publisher.publish(batch)
    finally:
        await publisher.stop()
    send, run = memory.get_finished_spans()
    assert send.name == "send sync.inbound" and send.kind is SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == run.context.span_id
    assert dict(send.attributes or {})["messaging.batch.message_count"] == 2
    ours = {e.delivery_id.encode() for e in batch}
    carried = [
        headers["traceparent"].decode().split("-")[2]
        for _, headers in await read_all(broker, topics.OBSERVATIONS)
        if headers["delivery-id"] in ours
    ]
    assert carried == [format(send.context.span_id, "016x")] * 2
    provider.shutdown()
