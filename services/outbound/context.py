"""Everything a processor needs, built once per worker from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from connectors.base import Connector
from connectors.registry import make_connector
from outbound.state import StateStore
from runtime.settings import Settings
from syncmodel.config import SyncConfig, load_config
from syncmodel.mapping import FieldMapping


@dataclass
class Context:
    settings: Settings
    config: SyncConfig
    store: StateStore
    mappings: dict[str, FieldMapping]
    _connectors: dict[str, Connector] = field(default_factory=dict)

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Context:
        settings = settings or Settings()
        config = load_config(settings.config_path)
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        sides = (config.platform, *config.integrations)
        return cls(
            settings=settings,
            config=config,
            store=StateStore(redis),
            mappings={s.id: s.mapping() for s in sides},
        )

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
        await self.store.redis.aclose()
