"""The sides the reconciler works with: the tenant's config (followed while running) and one
connector per side, each counting the requests it sends for the task that sends them (a run
reports its own, per side)."""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar

import httpx

from incident_sync.connectors.base import Connector
from incident_sync.connectors.pool import ConnectorPool
from incident_sync.connectors.registry import REGISTRY
from incident_sync.controlstore.source import ConfigSource, config_source
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.mapping import FieldMapping

# The requests the current task sends, per side (a run sets it: the side tasks run at once,
# and each run reports only its own requests).
REQUESTS: ContextVar[Counter[str] | None] = ContextVar("reconciler_requests", default=None)


class Sides:
    def __init__(self, source: ConfigSource, config: SyncConfig) -> None:
        self.source = source
        self._pool = ConnectorPool(config, http=_counting_client)
        self._mappings: dict[str, FieldMapping] = {}

    @property
    def config(self) -> SyncConfig:
        return self._pool.config

    @classmethod
    def from_settings(cls, settings: Settings) -> Sides:
        source = config_source(settings, tool_types=REGISTRY.types())
        return cls(source, source.load())

    async def reload(self) -> bool:
        """Swap in a changed config; sides whose settings changed get new connectors (the
        old ones are closed a minute later: a run may still be reading through them)."""
        config = await self.source.poll()
        if config is None:
            return False
        for side_id in self._pool.swap(config):
            self._mappings.pop(side_id, None)
        return True

    def pollable(self, side_id: str) -> bool:
        """The platform, and integrations whose changes are taken in at all."""
        side = self.config.side(side_id)
        return side is not None and (side is self.config.platform or side.direction.accepts_inbound)

    def connector(self, side_id: str) -> Connector:
        return self._pool.get(side_id)

    def mapping(self, side_id: str) -> FieldMapping:
        if side_id not in self._mappings:
            side = self.config.side(side_id)
            if side is None:
                raise KeyError(f"no side is configured with id {side_id!r}")
            self._mappings[side_id] = side.mapping()
        return self._mappings[side_id]

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self.source.aclose()


def _counting_client(side: IntegrationConfig) -> httpx.AsyncClient:
    """Counts each request for the run whose task sends it (`REQUESTS`)."""

    async def count(request: httpx.Request) -> None:
        counter = REQUESTS.get()
        if counter is not None:
            counter[side.id] += 1

    return httpx.AsyncClient(timeout=side.timeout_s, event_hooks={"request": [count]})
