"""Corrective changes and polled snapshots go to `sync.inbound`, as webhooks do: keyed by
record, with the headers the ingress sets, each acknowledged by the broker (acks=all)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from runtime import tracing
from runtime.kafka import ensure_topics, make_producer
from runtime.settings import Settings
from syncmodel import codec, topics
from syncmodel.events import ChangeEvent


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        await ensure_topics(self.settings, [topics.INBOUND])
        producer = make_producer(self.settings)
        await producer.start()
        self._producer = producer

    async def publish(self, events: Sequence[ChangeEvent]) -> None:
        """Send every event and wait until the broker acknowledged them all."""
        if not events:
            return
        if self._producer is None:
            raise RuntimeError("the publisher is not started")
        pending = []
        for event in events:
            pending.append(
                await self._producer.send(
                    topics.INBOUND,
                    value=codec.encode(event),
                    key=topics.record_key(event.tenant, event.integration_id, event.external_id),
                    headers=headers(event),
                )
            )
        await asyncio.gather(*pending)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def headers(event: ChangeEvent) -> list[tuple[str, bytes]]:
    """The ingress's headers, and the current span (a reconcile run or a poll) as the parent
    of the gate's: a corrective change is one trace from the run down to the write."""
    return [
        ("origin", event.origin.value.encode()),
        ("delivery-id", event.delivery_id.encode()),
        ("integration-id", event.integration_id.encode()),
        *tracing.kafka_headers(),
    ]
