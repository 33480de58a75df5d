"""The incident.io side's options (see `connectors.incidentio.connector`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from incident_sync.connectors.incidentio.fields import DEFAULT_COMMENT_FIELD, DEFAULT_PRIORITY_FIELD
from incident_sync.connectors.options import ConnectorOptions


class IncidentIoOptions(ConnectorOptions):
    comment_custom_field: str = Field(
        DEFAULT_COMMENT_FIELD, description="the text custom field receiving other tools' notes"
    )
    priority_custom_field: str = Field(
        DEFAULT_PRIORITY_FIELD,
        description='the custom field holding the priority (P1..P5); "" switches priority off',
    )
    visibility: Literal["public", "private"] = Field(
        "public", description="of an incident created from another tool"
    )
    create_mode: str | None = Field(
        None, description="mode of an incident created from another tool (standard, ...)"
    )
