"""The PagerDuty integration's options (see `connectors.pagerduty.connector`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from incident_sync.connectors.options import ConnectorOptions, PairList, Pairs, spaced


class PagerDutyOptions(ConnectorOptions):
    service_id: str | None = Field(None, description="where creates go (required to create)")
    urgency: Literal["high", "low"] = Field("high", description="the urgency of creates")
    incident_key_prefix: str = Field(
        "incident-sync-",
        description='creates set incident_key to <prefix><incident id>; "" default',
    )
    priority_map: Annotated[
        Pairs, PairList(value=spaced("P[1-5]"), example="SEV-1=P1,SEV-2=P2")
    ] = Field((), description="account priority name=P1..P5 (names P1..P5 need none)")
    reopen_status: Literal["triggered", "acknowledged"] = Field(
        "triggered", description="the status a resolved incident is reopened to"
    )
    resolution: str | None = Field(None, description="the resolution note sent with a resolve")
