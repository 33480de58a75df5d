"""The Echo connector as registered: `echo = "incident_sync_echo.spec:SPEC"` in this
distribution's `[project.entry-points."incident_sync.connectors"]`."""

from __future__ import annotations

from incident_sync.connectors.spec import ConnectorSpec
from incident_sync.syncmodel.tools import CanonicalFields
from incident_sync_echo.connector import EchoConnector, EchoOptions
from incident_sync_echo.wire import FIELDS

SPEC = ConnectorSpec(
    type="echo",
    summary="the Echo tool (a test plugin packaged outside incident-sync)",
    connector=EchoConnector,
    options=EchoOptions,
    fields=CanonicalFields(inbound=frozenset(FIELDS), outbound=frozenset(FIELDS)),
)
