"""The Datadog connector as registered (`incident_sync.connectors` entry point `datadog`):
values mapped in code (state and severity dropdowns)."""

from __future__ import annotations

from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.connectors.datadog.options import DatadogOptions
from incident_sync.connectors.spec import ConnectorSpec, both_ways
from incident_sync.syncmodel.fields import Field as F

SPEC = ConnectorSpec(
    type="datadog",
    summary="Datadog incidents (API v2)",
    connector=DatadogConnector,
    options=DatadogOptions,
    fields=both_ways(F.TITLE, F.DESCRIPTION, F.STATUS, F.SEVERITY),
)
