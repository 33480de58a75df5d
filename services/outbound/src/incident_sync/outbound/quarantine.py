"""A stage's messages it cannot process go to the quarantine (`syncstate.quarantine`), never
nowhere: `sync.quarantine` first, then the index operators list (`im quarantine`), each step
retried while Redis or the broker is away, and only then is the message acknowledged. The
entry names the stage, the error and the original bytes, and the integration where the
message tells it (else the tenant's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import ConsumerRecord

from incident_sync.outbound.context import Context
from incident_sync.outbound.durable import until_done
from incident_sync.outbound.metrics import QUARANTINED
from incident_sync.syncstate.quarantine import (
    UNKNOWN,
    Message,
    Publish,
    QuarantineEntry,
    QuarantineIndex,
    Stage,
    attribute,
    publish_entry,
)

log = logging.getLogger(__name__)


def _headers(headers: Any) -> tuple[tuple[str, bytes], ...]:
    items = headers.items() if isinstance(headers, Mapping) else headers or ()
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in items)


def of_event(event: Any) -> Message:
    """A faust event's message (topic, partition, offset, key, value, headers)."""
    m = event.message
    timestamp = getattr(m, "timestamp", None)
    return Message(
        topic=m.topic,
        value=m.value or b"",
        key=m.key,
        headers=_headers(m.headers),
        partition=m.partition,
        offset=m.offset,
        timestamp_ms=int(timestamp * 1000) if timestamp else None,
    )


def of_record(record: ConsumerRecord[bytes, bytes]) -> Message:
    """A record aiokafka read (the retry relay's)."""
    return Message(
        topic=record.topic,
        value=record.value or b"",
        key=record.key,
        headers=_headers(record.headers),
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
    )


class Quarantine:
    def __init__(self, ctx: Context, publish: Publish) -> None:
        self.ctx = ctx
        self.publish = publish
        self.index = QuarantineIndex(ctx.store.redis)

    async def put(
        self,
        stage: Stage,
        message: Message,
        error: BaseException,
        *,
        retry_topic: str | None = None,
    ) -> QuarantineEntry:
        """Durable in the quarantine when this returns."""
        config = self.ctx.config
        sides = {config.platform.id, *(i.id for i in config.integrations)}
        entry = QuarantineEntry.of(
            stage,
            message,
            error,
            tenant=config.platform.tenant,
            integration_id=attribute(message, sides, config.platform.id),
            retry_topic=retry_topic,
        )
        await until_done(lambda: publish_entry(entry, self.publish), "quarantine.publish")
        await until_done(lambda: self.index.add(entry), "quarantine.add")
        QUARANTINED.labels(stage.value, entry.integration_id or UNKNOWN).inc()
        log.error(
            "message quarantined",
            extra={
                "quarantine_entry": entry.id,
                "stage": stage.value,
                "integration": entry.integration_id,
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error_type": entry.error_type,
                "error": entry.error[:300],
            },
        )
        return entry
