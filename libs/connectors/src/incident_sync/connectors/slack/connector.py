"""The Slack side: an outbound-only notifier.

One message per platform incident in the configured channel, posted once
(`chat.postMessage`) and then kept current (`chat.update`); every comment becomes a reply in
its thread. The record id is `<channel id>:<message ts>`. Nothing comes in: it is a
`Notifier` (no webhooks, no change feed), and a Slack integration's direction is always
outbound.

Options: `channel` (required: a channel id such as C0123456789), `history_pages` (default 5:
how far back `find_linked` looks for the incident's message, 200 messages a page).
`api_key` is the bot token (`xoxb-...`, scopes chat:write, channels:history).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import httpx

from incident_sync.connectors.base import (
    RecordState,
    RequestNotSent,
    ToolError,
    Written,
)
from incident_sync.connectors.capabilities import CommentThread, Notifier
from incident_sync.connectors.http import ToolConnector
from incident_sync.connectors.slack.client import SlackClient
from incident_sync.connectors.slack.client import auth as client_auth
from incident_sync.connectors.slack.message import MESSAGE_TEXT_MAX, render, state_of
from incident_sync.connectors.slack.options import SlackOptions
from incident_sync.syncmodel.fields import Field
from incident_sync.syncmodel.limits import cut


class SlackConnector(ToolConnector[SlackClient], CommentThread, Notifier):
    supports_comment_edits = True

    client_class = SlackClient

    def _auth(self) -> httpx.Auth:
        return client_auth(*self._required("api_key (the bot token) is", self.config.api_key))

    @cached_property
    def options(self) -> SlackOptions:
        return SlackOptions.of(self.config)

    @property
    def channel(self) -> str:
        channel = self.options.channel
        if not channel:
            raise RequestNotSent(f"{self.config.id}: the channel option is required")
        return channel

    @staticmethod
    def _split(external_id: str) -> tuple[str, str]:
        channel, sep, ts = external_id.partition(":")
        if not sep or not channel or not ts:
            raise ToolError(
                f"Slack: not a <channel>:<ts> record id: {external_id!r}", retryable=False
            )
        return channel, ts

    async def test_connection(self) -> None:
        await self.client.call("auth.test", body={})

    async def fetch(self, external_id: str) -> RecordState:
        channel, ts = self._split(external_id)
        pid, fields = state_of(await self.client.message(channel, ts))
        return RecordState(external_id=external_id, fields=fields, platform_incident_id=pid)

    async def find_linked(self, platform_incident_id: str) -> str | None:
        for message in await self.client.history(self.channel, pages=self.options.history_pages):
            pid, _ = state_of(message)
            if pid == platform_incident_id and isinstance(message.get("ts"), str):
                return f"{self.channel}:{message['ts']}"
        return None

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        shown = {k: v for k, v in fields.items() if k != Field.COMMENT}
        posted = await self.client.post(self.channel, render(platform_incident_id, shown))
        external_id = f"{posted['channel']}:{posted['ts']}"
        if comment := fields.get(Field.COMMENT):
            await self.add_comment(external_id, comment)
        return RecordState(
            external_id=external_id, fields=dict(fields), platform_incident_id=platform_incident_id
        )

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """Re-render the message with the merged values (one read, one update), then the
        comment as a thread reply. The metadata keeps the values whole: stored as sent."""
        channel, ts = self._split(external_id)
        changes = {k: v for k, v in fields.items() if k != Field.COMMENT}
        if changes:
            pid, current = state_of(await self.client.message(channel, ts))
            merged = {**current, **changes}
            if _shown(merged) != _shown(current):
                await self.client.update(channel, ts, render(pid or "?", merged))
        if comment := fields.get(Field.COMMENT):
            await self.add_comment(external_id, comment)
        return Written()

    async def add_comment(self, external_id: str, body: str) -> str | None:
        channel, ts = self._split(external_id)
        text = cut(body, MESSAGE_TEXT_MAX)
        reply = await self.client.post(channel, {"text": text}, thread_ts=ts)
        return str(reply["ts"])

    async def edit_comment(self, external_id: str, comment_id: str, body: str) -> None:
        channel, _ = self._split(external_id)
        await self.client.update(channel, comment_id, {"text": cut(body, MESSAGE_TEXT_MAX)})

    async def delete_comment(self, external_id: str, comment_id: str) -> None:
        channel, _ = self._split(external_id)
        await self.client.delete(channel, comment_id)


def _shown(fields: Mapping[str, str | None]) -> dict[str, str]:
    """What the message displays: an empty value shows like an absent one."""
    return {k: v for k, v in fields.items() if v}
