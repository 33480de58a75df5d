"""The connector for a configured side, chosen by its tool type."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from connectors.base import Connector
from connectors.datadog.connector import DatadogConnector
from connectors.incidentio.connector import IncidentIoConnector
from connectors.jira.connector import JiraConnector
from connectors.pagerduty.connector import PagerDutyConnector
from connectors.servicenow.connector import ServiceNowConnector
from connectors.slack.connector import SlackConnector
from syncmodel.config import IntegrationConfig
from syncmodel.fields import ToolType

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
