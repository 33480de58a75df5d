"""The sides the ingress accepts webhooks for: one connector per configured side."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from connectors.base import Connector
from connectors.registry import make_connector
from ingress.metrics import SideMetrics
from syncmodel.config import IntegrationConfig, SyncConfig
from syncmodel.fields import ToolType

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
    def __init__(self, config: SyncConfig, factory: ConnectorFactory = default_factory) -> None:
        self.platform = self._side(config.platform, factory, is_platform=True)
        self._by_id = {self.platform.id: self.platform}
        for integration in config.integrations:
            self._by_id[integration.id] = self._side(integration, factory, is_platform=False)
        snow = [s for s in self._by_id.values() if s.config.type is ToolType.SERVICENOW]
        self.servicenow: Side | None = snow[0] if len(snow) == 1 else None
        if not snow:
            self.servicenow_missing = "no ServiceNow integration is configured"
        else:
            ids = ", ".join(s.id for s in snow)
            self.servicenow_missing = (
                f"several ServiceNow integrations are configured ({ids}): "
                "post to /webhooks/{integration_id}"
            )

    @staticmethod
    def _side(config: IntegrationConfig, factory: ConnectorFactory, *, is_platform: bool) -> Side:
        return Side(
            config=config,
            connector=factory(config),
            is_platform=is_platform,
            metrics=SideMetrics(config.id, config.type.value),
            id_header=config.id.encode(),
        )

    def get(self, integration_id: str) -> Side | None:
        return self._by_id.get(integration_id)

    def __iter__(self) -> Iterator[Side]:
        return iter(self._by_id.values())
