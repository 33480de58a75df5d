"""The Slack connector as registered (`incident_sync.connectors` entry point `slack`): an
outbound-only notifier, so every Slack integration's direction is `outbound`."""

from __future__ import annotations

from incident_sync.connectors.slack.connector import SlackConnector
from incident_sync.connectors.slack.options import SlackOptions
from incident_sync.connectors.spec import ConnectorSpec
from incident_sync.syncmodel.fields import Direction
from incident_sync.syncmodel.fields import Field as F
from incident_sync.syncmodel.tools import CanonicalFields

SPEC = ConnectorSpec(
    type="slack",
    summary="Slack, an outbound-only notifier: one message per incident, comments in its thread",
    connector=SlackConnector,
    options=SlackOptions,
    # It shows everything and takes nothing in.
    fields=CanonicalFields(
        inbound=frozenset(),
        outbound=frozenset(
            f.value
            for f in (
                F.TITLE,
                F.DESCRIPTION,
                F.STATUS,
                F.SEVERITY,
                F.PRIORITY,
                F.ASSIGNEE,
                F.COMMENT,
            )
        ),
    ),
    direction=Direction.OUTBOUND,
)
