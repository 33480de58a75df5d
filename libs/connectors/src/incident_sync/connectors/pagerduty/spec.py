"""The PagerDuty connector as registered (`incident_sync.connectors` entry point
`pagerduty`): values mapped in code (statuses, priorities and policies by name)."""

from __future__ import annotations

from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.connectors.pagerduty.options import PagerDutyOptions
from incident_sync.connectors.spec import ConnectorSpec, both_ways
from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.ownership import owned_by

SPEC = ConnectorSpec(
    type="pagerduty",
    summary="PagerDuty incidents (REST v2)",
    connector=PagerDutyConnector,
    options=PagerDutyOptions,
    fields=both_ways(F.TITLE, F.STATUS, F.PRIORITY, F.ASSIGNEE, F.ESCALATION_POLICY, F.COMMENT),
    # The ITSM sync guide's defaults (who is paged is PagerDuty's).
    default_ownership=owned_by((F.TITLE, F.DESCRIPTION), (F.ESCALATION_POLICY, F.ASSIGNEE)),
)
