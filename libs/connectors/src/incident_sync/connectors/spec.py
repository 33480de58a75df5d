"""What a connector package declares about its tool: one `ConnectorSpec`, registered under its
tool type in the `incident_sync.connectors` entry-point group (see `connectors.registry`).

    [project.entry-points."incident_sync.connectors"]
    servicenow = "incident_sync.connectors.servicenow.spec:SPEC"

The spec is the tool's traits the domain reads (`syncmodel.tools.ToolTraits`: the options
model, the canonical fields, default ownership, a forced direction, platform or not) plus the
connector class. What the connector can do is the roles its class implements
(`connectors.capabilities`).
"""

from __future__ import annotations

from dataclasses import dataclass

from incident_sync.connectors.base import Connector
from incident_sync.connectors.capabilities import ChangeFeed, Notifier, WebhookSource, roles
from incident_sync.syncmodel.fields import Direction, Field
from incident_sync.syncmodel.tools import CanonicalFields, ToolTraits


@dataclass(frozen=True, kw_only=True)
class ConnectorSpec(ToolTraits):
    """A tool type's traits and its connector. `summary`: one line for people (the CLI's
    help, the OpenAPI document). A spec that contradicts its connector's roles (a notifier
    whose integrations could take changes in, or that has webhooks) is refused when made."""

    connector: type[Connector]
    summary: str = ""

    def __post_init__(self) -> None:
        if issubclass(self.connector, Notifier):
            if self.direction is not Direction.OUTBOUND:
                raise ValueError(f"{self.type}: a notifier's direction must be outbound")
            if issubclass(self.connector, WebhookSource | ChangeFeed):
                raise ValueError(f"{self.type}: a notifier has no webhooks and no change feed")

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The roles its connector implements (`connectors.capabilities.ROLES`)."""
        return roles(self.connector)


def both_ways(*fields: Field) -> CanonicalFields:
    """A tool mapped in code that carries `fields` in and out (its spec's `fields`)."""
    names = frozenset(f.value for f in fields)
    return CanonicalFields(inbound=names, outbound=names)
