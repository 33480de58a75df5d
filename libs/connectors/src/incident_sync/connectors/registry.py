"""The connector for a configured side, chosen by its tool type."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from incident_sync.connectors.base import Connector
from incident_sync.connectors.datadog.connector import DatadogConnector
from incident_sync.connectors.incidentio.connector import IncidentIoConnector
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.connectors.slack.connector import SlackConnector
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.fields import ToolType

CONNECTORS: Mapping[ToolType, type[Connector]] = {
    ToolType.INCIDENTIO: IncidentIoConnector,
    ToolType.SERVICENOW: ServiceNowConnector,
    ToolType.JIRA: JiraConnector,
    ToolType.PAGERDUTY: PagerDutyConnector,
    ToolType.DATADOG: DatadogConnector,
    ToolType.SLACK: SlackConnector,
}


def make_connector(
    config: IntegrationConfig, *, http: httpx.AsyncClient | None = None
) -> Connector:
    """A connector for `config`; `http` (e.g. a shared pool or a test transport) is used as
    is, since connectors send absolute URLs with per-request auth."""
    try:
        connector_type = CONNECTORS[config.type]
    except KeyError:
        raise ValueError(f"{config.id}: no connector for tool type {config.type!r}") from None
    return connector_type(config, http=http)
