"""Corrective changes and polled snapshots go to `sync.inbound`, as webhooks do: keyed by
record, with the headers the ingress sets, each acknowledged by the broker (acks=all).

One the broker or the producer refuses for its own sake (too large) goes to the quarantine
(`syncstate.quarantine`, stage `reconciler`: `sync.quarantine`, then the index) and the others
go on; a retry publishes it on `sync.inbound`. The broker being away fails the call (the pass
or run is tried again later: nothing listed is lost)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from incident_sync.reconciler import metrics
from incident_sync.runtime import tracing
from incident_sync.runtime.kafka import ensure_topics, make_producer
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.events import ChangeEvent
from incident_sync.syncstate.quarantine import (
    Message,
    QuarantineEntry,
    QuarantineIndex,
    Stage,
    publish_entry,
    too_large,
)

log = logging.getLogger("reconciler.publisher")


class Publisher:
    def __init__(self, settings: Settings, redis: Redis | None = None) -> None:
        self.settings = settings
        # Without Redis (tests of the engine alone) a refused record fails the call.
        self.quarantine = QuarantineIndex(redis) if redis is not None else None
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        await ensure_topics(self.settings, [topics.OBSERVATIONS, topics.QUARANTINE])
        producer = make_producer(self.settings)
        await producer.start()
        self._producer = producer

    async def publish(self, events: Sequence[ChangeEvent]) -> None:
        """Send every event and wait until the broker acknowledged them all (or, for one it
        refused for its size, until it is in the quarantine)."""
        if not events:
            return
        if self._producer is None:
            raise RuntimeError("the publisher is not started")
        first = events[0]
        key = topics.record_key(first.tenant, first.integration_id, first.external_id)
        # One `send sync.inbound` span for the batch, the child of the run's or the pass's.
        with tracing.sending(topics.OBSERVATIONS, key, count=len(events)):
            await self._publish(events, self._producer)

    async def _publish(self, events: Sequence[ChangeEvent], producer: AIOKafkaProducer) -> None:
        pending: list[tuple[ChangeEvent, Message, asyncio.Future[Any]]] = []
        for event in events:
            message = Message(
                topic=topics.OBSERVATIONS,
                value=codec.encode(event),
                key=topics.record_key(event.tenant, event.integration_id, event.external_id),
                headers=headers(event),
            )
            try:
                sent = await producer.send(
                    topics.OBSERVATIONS,
                    value=message.value,
                    key=message.key,
                    headers=list(message.headers),
                )
            except Exception as exc:  # noqa: BLE001 - _refused raises what it does not keep
                await self._refused(event, message, exc)
                continue
            pending.append((event, message, sent))
        outage: BaseException | None = None
        for event, message, sent in pending:
            try:
                await sent
            except Exception as exc:  # noqa: BLE001 - sorted by _refused
                try:
                    await self._refused(event, message, exc)
                except Exception as other:  # noqa: BLE001 - the first outage is raised below
                    outage = outage or other
        if outage is not None:
            raise outage

    async def _refused(self, event: ChangeEvent, message: Message, exc: BaseException) -> None:
        """Quarantine a record refused for its size; raise anything else."""
        if not too_large(exc) or self.quarantine is None or self._producer is None:
            raise exc
        entry = QuarantineEntry.of(
            Stage.RECONCILER, message, exc, tenant=event.tenant, integration_id=event.integration_id
        )
        producer = self._producer

        async def to_topic(
            topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
        ) -> None:
            await (await producer.send(topic, value=value, key=key, headers=headers))

        await publish_entry(entry, to_topic)
        await self.quarantine.add(entry)
        metrics.QUARANTINED.labels(Stage.RECONCILER.value, event.integration_id).inc()
        log.error(
            "change quarantined",
            extra={
                "quarantine_entry": entry.id,
                "side": event.integration_id,
                "external_id": event.external_id,
                "size": entry.size,
                "error": entry.error[:300],
            },
        )

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def headers(event: ChangeEvent) -> list[tuple[str, bytes]]:
    """The ingress's headers, and the current span (the publish's, under a reconcile run or
    a poll) as the parent of the gate's: a corrective change is one trace from the run down
    to the write."""
    return [
        ("origin", event.origin.value.encode()),
        ("delivery-id", event.delivery_id.encode()),
        ("integration-id", event.integration_id.encode()),
        *tracing.kafka_headers(),
    ]
