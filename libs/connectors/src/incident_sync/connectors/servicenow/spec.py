"""The ServiceNow connector as registered (`incident_sync.connectors` entry point
`servicenow`): its fields go through the field-mapping engine (a mapping file)."""

from __future__ import annotations

from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.connectors.servicenow.options import ServiceNowOptions
from incident_sync.connectors.spec import ConnectorSpec
from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.ownership import owned_by

SPEC = ConnectorSpec(
    type="servicenow",
    summary="ServiceNow incidents (Table API), fields through a mapping file",
    connector=ServiceNowConnector,
    options=ServiceNowOptions,
    # The ITSM sync guide's defaults (assigned_to = assignee, work_notes = comment).
    default_ownership=owned_by((F.SEVERITY, F.TITLE, F.DESCRIPTION), (F.ASSIGNEE, F.COMMENT)),
    guide_keys={
        "servicenow_webhook": "the ServiceNow webhook secret is the integration's "
        "`webhook_secret`, and signatures are always verified",
    },
)
