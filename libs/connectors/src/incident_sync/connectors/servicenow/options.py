"""The ServiceNow integration's options (see `connectors.servicenow.connector`)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from incident_sync.connectors.options import ConnectorOptions, PairList, Pairs, spaced

DEFAULT_CORRELATION_FIELD: Final = "u_incident_io_id"
COLUMN: Final = r"[a-z0-9_]{1,80}"


class ServiceNowOptions(ConnectorOptions):
    correlation_field: str = Field(
        DEFAULT_CORRELATION_FIELD,
        pattern=f"^{COLUMN}$",
        description="the incident column holding the platform incident id",
    )
    urgency: str | None = Field(None, description="default urgency of incidents created here")
    impact: str | None = Field(None, description="default impact of incidents created here")
    category: str | None = Field(None, description="default category of incidents created here")
    assignment_group: str | None = Field(
        None, description="default assignment group of incidents created here"
    )
    close_code: str | None = Field(
        None, description="sent when a write resolves or closes the incident"
    )
    close_notes: str = Field(
        "Closed by incident-sync", description="sent with close_code when it is set"
    )
    column_lengths: Annotated[
        Pairs,
        PairList(
            value=spaced("[1-9][0-9]{0,8}"),
            name=spaced(COLUMN),
            example="short_description=160,description=4000",
        ),
    ] = Field(
        (), description="column=length: the columns' maximum lengths (unset: the dictionary's)"
    )

    def create_defaults(self) -> dict[str, str]:
        """The columns a create sets unless the fields written set them."""
        given = {
            "urgency": self.urgency,
            "impact": self.impact,
            "category": self.category,
            "assignment_group": self.assignment_group,
        }
        return {k: v for k, v in given.items() if v}
