"""Group commit onto Kafka: one aiokafka batch per partition in flight, one future per batch.

aiokafka's `send()` costs tens of microseconds a message in Python (partitioner, futures,
accumulator bookkeeping) and sends at most one produce request per connection at a time.
A lane does what its accumulator does, at batch granularity: records for a partition whose
previous batch is still on its way collect in an open `BatchBuilder` (C-accelerated append),
which is handed to `send_batch` the moment the previous one is acknowledged. So a partition
has at most one batch in flight (record order holds, even across aiokafka's own retries), the
broker sees few large requests under load and a request per record when idle, and the Python
cost per record is one append and one future.

Each lane owns one producer; a partition always maps to the same lane.

Deadlines are per batch, not per record: a batch arms one timer when its first record
arrives and fails every waiter still pending when it fires. That bounds each publish (the
caller answers 503) at a timer per batch instead of a timeout context per request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError, UnknownTopicOrPartitionError
from aiokafka.partitioner import murmur2

log = logging.getLogger("ingress.publisher")

Header = tuple[str, bytes]


@lru_cache(maxsize=65_536)
def key_hash(key: bytes) -> int:
    """The Java client's (and aiokafka's default) partitioner hash, remembered per key."""
    return int(murmur2(key)) & 0x7FFFFFFF


class LaneFull(Exception):
    """Too much is waiting for this lane already (the broker is slow or away)."""


class _Batch:
    __slots__ = ("builder", "timer", "waiters")

    def __init__(self, builder: Any, timeout_s: float | None) -> None:
        self.builder = builder
        self.waiters: list[asyncio.Future[None]] = []
        self.timer: asyncio.TimerHandle | None = None
        if timeout_s is not None:
            self.timer = asyncio.get_running_loop().call_later(timeout_s, self._expire, timeout_s)

    def _expire(self, timeout_s: float) -> None:
        # The batch may still reach the broker later; the sender's retry then makes a
        # duplicate that the gate drops by delivery id.
        self.timer = None
        self.settle(KafkaTimeoutError(f"not acknowledged within {timeout_s:g}s"))

    def settle(self, exc: BaseException | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for waiter in self.waiters:
            if waiter.done():  # its caller gave up (timeout) meanwhile
                continue
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)
                waiter.exception()  # retrieved: a caller that gave up must not cause a warning


class Lane:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        *,
        max_queued_batches: int = 8,
        timeout_s: float | None = None,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout_s = timeout_s
        self._max_queued = max_queued_batches
        self._open: dict[int, _Batch] = {}
        self._full: dict[int, collections.deque[_Batch]] = {}
        self._inflight: set[int] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"ingress-lane-{id(self):x}")

    def append(
        self, partition: int, key: bytes, value: bytes, headers: list[Header]
    ) -> asyncio.Future[None]:
        """Queue one record; the future resolves when the broker acknowledged its batch."""
        batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = self._new_batch()
        if batch.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            # The open batch is full: park it and start another.
            queue = self._full.setdefault(partition, collections.deque())
            if len(queue) >= self._max_queued:
                raise LaneFull(f"{len(queue)} full batches already wait for partition {partition}")
            queue.append(batch)
            batch = self._open[partition] = self._new_batch()
            if batch.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                del self._open[partition]
                batch.settle(None)  # no waiters: only disarms its timer
                raise ValueError("record larger than the producer's max_batch_size")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.waiters.append(waiter)
        if partition not in self._inflight:
            self._wake.set()
        return waiter

    def _new_batch(self) -> _Batch:
        return _Batch(self.producer.create_batch(), self.timeout_s)

    def _next(self, partition: int) -> _Batch | None:
        queue = self._full.get(partition)
        if queue:
            return queue.popleft()
        return self._open.pop(partition, None)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ready = [p for p in (*self._full, *self._open) if p not in self._inflight]
            for partition in dict.fromkeys(ready):
                batch = self._next(partition)
                if batch is None:
                    continue
                self._inflight.add(partition)
                try:
                    fut = await self.producer.send_batch(
                        batch.builder, self.topic, partition=partition
                    )
                except AssertionError:  # aiokafka: "Unrecognized partition" (topic shrank)
                    self._settle(partition, batch, UnknownTopicOrPartitionError())
                except (KafkaError, OSError) as exc:
                    self._settle(partition, batch, exc)
                except Exception as exc:  # the lane must keep running
                    log.exception("send_batch failed")
                    self._settle(partition, batch, KafkaError(repr(exc)))
                else:
                    fut.add_done_callback(lambda f, p=partition, b=batch: self._acked(p, b, f))

    def _acked(self, partition: int, batch: _Batch, fut: asyncio.Future[object]) -> None:
        if fut.cancelled():
            exc: BaseException | None = KafkaTimeoutError("batch cancelled")
        else:
            exc = fut.exception()
        self._settle(partition, batch, exc)

    def _settle(self, partition: int, batch: _Batch, exc: BaseException | None) -> None:
        self._inflight.discard(partition)
        batch.settle(exc)
        if partition in self._open or self._full.get(partition):
            self._wake.set()

    @property
    def idle(self) -> bool:
        return not self._inflight and not self._open and not any(self._full.values())

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) until everything queued has been acknowledged or failed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not self.idle:
                    self._wake.set()
                    await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        failure = KafkaError("publisher closed")
        for partition in list({*self._open, *self._full}):
            while (batch := self._next(partition)) is not None:
                batch.settle(failure)
