"""The Datadog integration's options (see `connectors.datadog.connector`)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from incident_sync.connectors.datadog.webhook import DEFAULT_HEADER
from incident_sync.connectors.options import ConnectorOptions, PairList, Pairs, spaced

CORRELATION_FIELD: Final = "incident_sync_id"
REF_FIELD: Final = "incident_sync_ref"


class DatadogOptions(ConnectorOptions):
    correlation_field: str = Field(
        CORRELATION_FIELD, description='the textbox field holding the incident id; "" default'
    )
    ref_field: str = Field(
        REF_FIELD, description="the textbox field a create fills with the incident's own UUID"
    )
    severity_map: Annotated[
        Pairs,
        PairList(
            value=spaced("critical|major|minor"), example="SEV-1=critical,SEV-2=major,SEV-3=minor"
        ),
    ] = Field((), description="Datadog severity=critical|major|minor (unset: SEV-1..SEV-5)")
    webhook_header: str = Field(
        DEFAULT_HEADER,
        pattern="^[A-Za-z0-9-]{1,100}$",
        description="the header carrying webhook_secret on the notification webhook",
    )
