"""The Jira connector as registered (`incident_sync.connectors` entry point `jira`): values
mapped in code (transitions, priority names, users by e-mail)."""

from __future__ import annotations

from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.connectors.jira.options import JiraOptions
from incident_sync.connectors.spec import ConnectorSpec, both_ways
from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.ownership import owned_by

SPEC = ConnectorSpec(
    type="jira",
    summary="Jira Cloud / Jira Service Management issues (REST v3)",
    connector=JiraConnector,
    options=JiraOptions,
    fields=both_ways(
        F.TITLE, F.DESCRIPTION, F.STATUS, F.PRIORITY, F.ASSIGNEE, F.SEVERITY, F.COMMENT
    ),
    # The ITSM sync guide's defaults (assignee and comments are the agents').
    default_ownership=owned_by((F.SEVERITY, F.PRIORITY), (F.ASSIGNEE, F.COMMENT)),
)
