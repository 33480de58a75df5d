"""The Jira integration's options (see `connectors.jira.connector`)."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from incident_sync.connectors.options import ConnectorOptions, PairList, Pairs, spaced

CANONICAL_PRIORITY: Final = spaced("P[1-5]")


class JiraOptions(ConnectorOptions):
    project_key: str | None = Field(None, description="where creates go (required to create)")
    issue_type: str = Field("Incident", description="the issue type of creates")
    correlation_label_prefix: str = Field(
        "incident-sync-", description='creates add the label <prefix><incident id>; "" default'
    )
    priority_map: Annotated[
        Pairs, PairList(value=CANONICAL_PRIORITY, example="Highest=P1,High=P2,Medium=P3")
    ] = Field((), description="Jira priority name=P1..P5 (unset: the stock names)")
    closed_statuses: str | None = Field(
        None, description="comma list: status names read as closed when a payload has no category"
    )
    close_transition: str | None = Field(None, description="preferred transition to close")
    reopen_transition: str | None = Field(None, description="preferred transition to reopen")
    close_resolution: str = Field(
        "Done", description="the resolution sent when a transition screen requires one"
    )
    severity_field: str | None = Field(
        None, description="a select custom field holding the severity (customfield_10050)"
    )
    comment_visibility: Literal["internal", "public"] = Field(
        "internal", description="of the comments we copy: internal notes or public comments"
    )
    webhook_auth: Literal["hmac", "connect-jwt", "any"] = Field(
        "hmac", description="which webhook signature is accepted (a Connect JWT's covers no body)"
    )
    connect_client_key: str | None = Field(None, description="the Connect JWT `iss` to require")
    connect_path: str | None = Field(
        None, description="the path a Connect JWT's qsh must name (default /webhooks/<id>)"
    )
