"""The sides the reconciler works with: the tenant's config (followed while running) and one
connector per side, each counting the requests it sends for the task that sends them (a run
reports its own, per side)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextvars import ContextVar

import httpx

from connectors.base import Connector
from connectors.registry import CONNECTORS, make_connector
from controlstore.source import ConfigSource, config_source
from runtime.settings import Settings
from syncmodel.config import SyncConfig
from syncmodel.mapping import FieldMapping

log = logging.getLogger("reconciler.sides")
RETIRE_AFTER_S = 60.0
# The requests the current task sends, per side (a run sets it: the side tasks run at once,
# and each run reports only its own requests).
REQUESTS: ContextVar[Counter[str] | None] = ContextVar("reconciler_requests", default=None)


class Sides:
    def __init__(self, source: ConfigSource, config: SyncConfig) -> None:
        self.source = source
        self.config = config
        self._connectors: dict[str, Connector] = {}
        self._mappings: dict[str, FieldMapping] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Sides:
        source = config_source(settings, tool_types=CONNECTORS.keys())
        return cls(source, source.load())

    async def reload(self) -> bool:
        """Swap in a changed config; sides whose settings changed get new connectors (the
        old ones are closed a minute later: a run may still be reading through them)."""
        config = await self.source.poll()
        if config is None:
            return False
        old, self.config = self.config, config
        retired = []
        for side_id in list(self._connectors):
            if old.side(side_id) != config.side(side_id):
                retired.append(self._connectors.pop(side_id))
                self._mappings.pop(side_id, None)
        if retired:
            asyncio.get_running_loop().call_later(
                RETIRE_AFTER_S, lambda: asyncio.ensure_future(_close(retired))
            )
        return True

    def pollable(self, side_id: str) -> bool:
        """The platform, and integrations whose changes are taken in at all."""
        side = self.config.side(side_id)
        return side is not None and (side is self.config.platform or side.direction.accepts_inbound)

    def connector(self, side_id: str) -> Connector:
        existing = self._connectors.get(side_id)
        if existing is not None:
            return existing
        side = self.config.side(side_id)
        if side is None:
            raise KeyError(f"no side is configured with id {side_id!r}")

        async def count(request: httpx.Request) -> None:
            counter = REQUESTS.get()
            if counter is not None:
                counter[side_id] += 1

        http = httpx.AsyncClient(timeout=side.timeout_s, event_hooks={"request": [count]})
        connector = self._connectors[side_id] = make_connector(side, http=http)
        return connector

    def mapping(self, side_id: str) -> FieldMapping:
        if side_id not in self._mappings:
            side = self.config.side(side_id)
            if side is None:
                raise KeyError(f"no side is configured with id {side_id!r}")
            self._mappings[side_id] = side.mapping()
        return self._mappings[side_id]

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        self._connectors.clear()
        await self.source.aclose()


async def _close(connectors: list[Connector]) -> None:
    for connector in connectors:
        try:
            await connector.aclose()
        except Exception:  # closing must go on
            log.exception("connector close failed")
