"""The Slack notifier's options (see `connectors.slack.connector`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from incident_sync.connectors.options import ConnectorOptions, Count


class SlackOptions(ConnectorOptions):
    channel: str | None = Field(None, description="the channel id, such as C0123456789 (required)")
    history_pages: Annotated[int, Count(1, 50)] = Field(
        5, description="how far back the incident's message is looked for, 200 messages a page"
    )
