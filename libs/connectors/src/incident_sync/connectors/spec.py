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
from incident_sync.syncmodel.tools import ToolTraits


@dataclass(frozen=True, kw_only=True)
class ConnectorSpec(ToolTraits):
    """A tool type's traits and its connector. `summary`: one line for people (the CLI's
    help, the OpenAPI document)."""

    connector: type[Connector]
    summary: str = ""
