"""Everything a processor needs, built once per worker from the environment."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis

from connectors.base import Connector
from connectors.registry import CONNECTORS, make_connector
from controlstore.source import ConfigSource, config_source
from outbound.state import StateStore
from runtime.settings import Settings
from syncmodel.config import SyncConfig
from syncmodel.mapping import FieldMapping

log = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    config: SyncConfig
    store: StateStore
    mappings: dict[str, FieldMapping]
    # Where the config comes from; the control store's changes are swapped in by `reload()`.
    source: ConfigSource | None = None
    _connectors: dict[str, Connector] = field(default_factory=dict)

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Context:
        settings = settings or Settings()
        source = config_source(settings, tool_types=CONNECTORS.keys())
        config = source.load()
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        return cls(
            settings=settings,
            config=config,
            store=StateStore(redis),
            mappings=mappings_of(config),
            source=source,
        )

    async def reload(self) -> bool:
        """Swap in the source's new config, if it changed; the agents read `config` and
        `mappings` per event, so the change applies from the next event on. A side whose
        config changed gets a new connector (the old one is closed a minute later)."""
        if self.source is None:
            return False
        config = await self.source.poll()
        if config is None:
            return False
        old = self.config
        self.mappings = mappings_of(config)
        self.config = config
        retired = []
        for side_id in list(self._connectors):
            if old.side(side_id) != config.side(side_id):
                retired.append(self._connectors.pop(side_id))
        if retired:
            asyncio.get_running_loop().call_later(
                60.0, lambda: asyncio.ensure_future(self._close(retired))
            )
        return True

    @staticmethod
    async def _close(connectors: list[Connector]) -> None:
        for connector in connectors:
            try:
                await connector.aclose()
            except Exception:  # closing must go on
                log.exception("connector close failed")

    def connector(self, integration_id: str) -> Connector:
        """One connector (and one pooled HTTP client) per side, made on first use."""
        existing = self._connectors.get(integration_id)
        if existing is not None:
            return existing
        side = self.config.side(integration_id)
        if side is None:
            raise KeyError(f"no side is configured with id {integration_id!r}")
        connector = make_connector(side)
        self._connectors[integration_id] = connector
        return connector

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        if self.source is not None:
            await self.source.aclose()
        await self.store.redis.aclose()


def mappings_of(config: SyncConfig) -> dict[str, FieldMapping]:
    return {s.id: s.mapping() for s in (config.platform, *config.integrations)}
