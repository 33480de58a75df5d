"""The incident.io connector as registered (`incident_sync.connectors` entry point
`incidentio`): the incident platform, its fields a fixed table of its own."""

from __future__ import annotations

from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.incidentio.options import IncidentIoOptions
from incident_sync.connectors.spec import ConnectorSpec

SPEC = ConnectorSpec(
    type="incidentio",
    summary="incident.io, the incident platform",
    connector=IncidentIoConnector,
    options=IncidentIoOptions,
    platform=True,
    guide_keys={
        "webhook": "the incident.io webhook secret is the platform's `webhook_secret`, and "
        "signatures are always verified",
    },
)
