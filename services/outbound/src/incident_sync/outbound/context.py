"""Everything a processor needs, built once per worker from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from incident_sync.connectors.base import Connector
from incident_sync.connectors.pool import ConnectorPool
from incident_sync.connectors.registry import REGISTRY
from incident_sync.controlstore.source import ConfigSource, config_source
from incident_sync.outbound.state import StateStore
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.mapping import FieldMapping
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.timeline import Timeline


@dataclass
class Context:
    settings: Settings
    config: SyncConfig
    store: StateStore
    mappings: dict[str, FieldMapping]
    # Where the config comes from; the control store's changes are swapped in by `reload()`.
    source: ConfigSource | None = None
    # Connectors to use as they are, by side id (tests' simulated sides).
    preset_connectors: dict[str, Connector] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._connectors = ConnectorPool(self.config, preset=self.preset_connectors)
        # Every decision about an incident (`syncstate.timeline`), within the settings' bounds.
        self.timeline = Timeline(
            self.store.redis,
            self.settings.timeline_max_entries,
            self.settings.timeline_retention_s,
        )

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Context:
        settings = settings or Settings()
        source = config_source(settings, tool_types=REGISTRY.types())
        config = source.load()
        redis = connect(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
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
        self.mappings = mappings_of(config)
        self.config = config
        self._connectors.swap(config)
        return True

    def connector(self, integration_id: str) -> Connector:
        """One connector (and one pooled HTTP client) per side, made on first use."""
        return self._connectors.get(integration_id)

    async def aclose(self) -> None:
        await self._connectors.aclose()
        if self.source is not None:
            await self.source.aclose()
        await self.store.redis.aclose()


def mappings_of(config: SyncConfig) -> dict[str, FieldMapping]:
    return {s.id: s.mapping() for s in (config.platform, *config.integrations)}
