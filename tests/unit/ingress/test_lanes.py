"""Lane: one batch in flight per partition, records grouped while it is, order kept."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError

from incident_sync.ingress.lanes import Lane, LaneFull, key_hash


class Batch:
    def __init__(self, limit: int) -> None:
        self.values: list[bytes] = []
        self.limit = limit

    def append(self, *, timestamp: None, key: bytes, value: bytes, headers: Any) -> object | None:
        if len(self.values) >= self.limit:
            return None
        self.values.append(value)
        return object()


class Producer:
    """Acknowledges only when told to."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.sent: list[tuple[int, list[bytes], asyncio.Future[None]]] = []

    def create_batch(self) -> Batch:
        return Batch(self.limit)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, batch.values, fut))
        return fut


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_records_wait_for_the_batch_in_flight_then_go_together_in_order() -> None:
    producer = Producer()
    lane = Lane(cast(Any, producer), "t")
    first = lane.append(0, b"k", b"1", [])
    await settle()
    assert [(p, v) for p, v, _ in producer.sent] == [(0, [b"1"])]
    later = [lane.append(0, b"k", str(i).encode(), []) for i in range(2, 6)]
    other = lane.append(1, b"j", b"x", [])  # another partition is not held up
    await settle()
    assert [(p, v) for p, v, _ in producer.sent] == [(0, [b"1"]), (1, [b"x"])]

    producer.sent[0][2].set_result(None)
    await settle()
    assert first.done() and not any(f.done() for f in later)
    assert producer.sent[2][:2] == (0, [b"2", b"3", b"4", b"5"])
    producer.sent[2][2].set_result(None)
    producer.sent[1][2].set_exception(KafkaTimeoutError())
    await settle()
    assert all(f.done() and f.exception() is None for f in later)
    assert isinstance(other.exception(), KafkaTimeoutError)
    await lane.close()


async def test_a_caller_that_gave_up_does_not_disturb_the_others() -> None:
    producer = Producer()
    lane = Lane(cast(Any, producer), "t")
    a = lane.append(0, b"k", b"a", [])
    b = lane.append(0, b"k", b"b", [])
    a.cancel()  # its request timed out
    await settle()
    producer.sent[0][2].set_result(None)
    await settle()
    assert b.result() is None
    await lane.close()


async def test_full_batches_queue_up_to_a_bound() -> None:
    producer = Producer(limit=1)
    lane = Lane(cast(Any, producer), "t", max_queued_batches=2)
    lane.append(0, b"k", b"0", [])
    await settle()  # in flight
    lane.append(0, b"k", b"1", [])
    lane.append(0, b"k", b"2", [])
    lane.append(0, b"k", b"3", [])
    with pytest.raises(LaneFull):
        lane.append(0, b"k", b"4", [])
    await lane.close()


def test_partitioning_matches_the_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in (b"a", b"default:incidentio:01HX", b"x" * 100):
        assert key_hash(key) % 6 == DefaultPartitioner()(key, list(range(6)), list(range(6)))


async def test_a_batch_past_its_deadline_fails_its_waiters_and_a_late_ack_is_harmless() -> None:
    producer = Producer()
    lane = Lane(cast(Any, producer), "t", timeout_s=0.05)
    first = lane.append(0, b"k", b"1", [])
    await settle()
    second = lane.append(0, b"k", b"2", [])  # waits behind the batch in flight
    await asyncio.sleep(0.1)
    assert isinstance(first.exception(), KafkaTimeoutError)
    assert isinstance(second.exception(), KafkaTimeoutError)
    producer.sent[0][2].set_result(None)  # the broker answers after all
    await settle()
    assert [v for _, v, _ in producer.sent] == [[b"1"], [b"2"]]  # the lane kept going
    producer.sent[1][2].set_result(None)
    await settle()
    assert lane.idle
    await lane.close()
