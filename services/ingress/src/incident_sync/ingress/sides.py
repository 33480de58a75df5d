"""The sides the ingress accepts webhooks for: one connector per configured side."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from incident_sync.connectors.base import Connector
from incident_sync.connectors.registry import make_connector
from incident_sync.ingress.metrics import SideMetrics
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig

log = logging.getLogger("ingress")

ConnectorFactory = Callable[[IntegrationConfig], Connector]


def default_factory(config: IntegrationConfig) -> Connector:
    return make_connector(config)


@dataclass(frozen=True, slots=True)
class Side:
    config: IntegrationConfig
    connector: Connector
    is_platform: bool
    metrics: SideMetrics
    # Kafka header values, encoded once.
    id_header: bytes

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def accepts_webhooks(self) -> bool:
        """`outbound` integrations ignore webhooks; the platform always speaks."""
        return self.is_platform or self.config.direction.accepts_inbound


class Sides:
    """The configured sides by id. `update()` swaps in a new config while serving: a side
    whose config did not change keeps its connector; one whose tool has no connector yet is
    left out (its webhooks get 404) with a warning."""

    def __init__(self, config: SyncConfig, factory: ConnectorFactory = default_factory) -> None:
        self._factory = factory
        self._by_id: dict[str, Side] = {}
        self.update(config)

    def update(self, config: SyncConfig) -> list[Connector]:
        """Use `config` from now on; returns the connectors no longer used (to close)."""
        old = self._by_id
        platform = self._side(config.platform, old, is_platform=True)
        assert platform is not None
        by_id = {platform.id: platform}
        for integration in config.integrations:
            side = self._side(integration, old, is_platform=False)
            if side is not None:
                by_id[integration.id] = side
        # The legacy route `/webhook/servicenow` serves the one integration of that type.
        snow = [s for s in by_id.values() if s.config.type == "servicenow"]
        if not snow:
            missing = "no ServiceNow integration is configured"
        else:
            ids = ", ".join(s.id for s in snow)
            missing = (
                f"several ServiceNow integrations are configured ({ids}): "
                "post to /webhooks/{integration_id}"
            )
        # Plain attribute assignments: a request sees the old sides or the new ones.
        self._by_id = by_id
        self.platform = platform
        self.servicenow: Side | None = snow[0] if len(snow) == 1 else None
        self.servicenow_missing = missing
        used = {id(s.connector) for s in by_id.values()}
        return [s.connector for s in old.values() if id(s.connector) not in used]

    def _side(
        self, config: IntegrationConfig, old: dict[str, Side], *, is_platform: bool
    ) -> Side | None:
        previous = old.get(config.id)
        if (
            previous is not None
            and previous.config == config
            and previous.is_platform == is_platform
        ):
            return previous
        try:
            connector = self._factory(config)
        except ValueError as exc:
            if is_platform:
                raise
            log.warning("side left out", extra={"integration": config.id, "reason": str(exc)})
            return None
        return Side(
            config=config,
            connector=connector,
            is_platform=is_platform,
            metrics=SideMetrics(config.id, config.type),
            id_header=config.id.encode(),
        )

    def get(self, integration_id: str) -> Side | None:
        return self._by_id.get(integration_id)

    def __iter__(self) -> Iterator[Side]:
        return iter(self._by_id.values())
