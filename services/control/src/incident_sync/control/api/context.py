"""What the handlers share, built once per app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from incident_sync.control.auth import Tokens
from incident_sync.control.policy import Policy
from incident_sync.control.settings import ControlSettings
from incident_sync.controlstore.crypto import Keyring
from incident_sync.controlstore.store import ControlStore
from incident_sync.runtime import tracing
from incident_sync.runtime.configfiles import MappingDirectory
from incident_sync.runtime.kafka import make_producer
from incident_sync.runtime.settings import Settings
from incident_sync.syncstate.timeline import Timeline

if TYPE_CHECKING:
    from incident_sync.control.api.routing import Route


@dataclass
class Services:
    settings: ControlSettings
    redis: Redis
    keyring: Keyring
    store: ControlStore
    tokens: Tokens
    policy: Policy
    # MAPPINGS_DIR's files, each parsed once until it changes (connection tests, manual syncs)
    mappings: MappingDirectory
    routes: list[Route] = field(default_factory=list)
    _producer: AIOKafkaProducer | None = None
    _producer_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def timeline(self) -> Timeline:
        """The incidents' timelines (`syncstate.timeline`), with the pipeline's bounds."""
        settings = self.settings
        return Timeline(self.redis, settings.timeline_max_entries, settings.timeline_retention_s)

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        """Produce one record and wait for the broker's acknowledgement (acks=all). The
        producer starts on first use: the API works without a broker until something must
        be published (conflict resolutions).

        The publish is a `send <topic>` span of the request's; the record carries it on
        (`runtime.tracing`) unless its headers carry a trace already (a quarantined message
        retried continues its own)."""
        async with self._producer_lock:
            if self._producer is None:
                producer = make_producer(Settings())
                await asyncio.wait_for(producer.start(), 10.0)
                self._producer = producer
        with tracing.sending(topic, key):
            if not any(name == "traceparent" for name, _ in headers):
                headers = [*headers, *tracing.kafka_headers()]
            sent = await self._producer.send(topic, value=value, key=key, headers=headers)
            await asyncio.wait_for(sent, 10.0)

    async def aclose(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
