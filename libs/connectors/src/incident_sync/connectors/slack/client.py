"""Async client for the Slack Web API methods the notifier needs.

Bearer bot token (`xoxb-...`). Slack answers HTTP 200 with `{"ok": false, "error": "..."}`
for most failures; `ratelimited` comes as HTTP 429 with `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from incident_sync.connectors.base import RecordNotFound, ToolError
from incident_sync.connectors.http import HeaderAuth, ToolClient, bearer

BASE_URL: Final = "https://slack.com/api"
RETRYABLE: Final = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
NOT_FOUND: Final = frozenset({"message_not_found", "thread_not_found"})


def auth(token: str) -> HeaderAuth:
    # Every POST carries a JSON body; Slack wants the charset stated.
    return bearer(token, with_body={"Content-Type": "application/json; charset=utf-8"})


class SlackClient(ToolClient):
    DEFAULT_BASE_URL = BASE_URL

    def error_text(self, body: object) -> str | None:
        return str(body["error"]) if isinstance(body, dict) and body.get("error") else None

    async def call(
        self,
        method: str,
        *,
        body: Mapping[str, object] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        """One Web API method; `ok: false` becomes a ToolError (or RecordNotFound)."""
        data = await self._call(
            "GET" if body is None else "POST",
            f"/{method}",
            params=params,
            json=dict(body) if body is not None else None,
        )
        if data.get("ok") is not True:
            error = str(data.get("error") or "unknown_error")
            if error in NOT_FOUND:
                raise RecordNotFound(f"Slack {method}: {error}")
            raise ToolError(f"Slack {method}: {error}", retryable=error in RETRYABLE)
        return data

    async def post(
        self, channel: str, message: Mapping[str, object], *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, object] = {"channel": channel, **message, "unfurl_links": False}
        if thread_ts is not None:
            body["thread_ts"] = thread_ts
        return await self.call("chat.postMessage", body=body)

    async def update(self, channel: str, ts: str, message: Mapping[str, object]) -> dict[str, Any]:
        return await self.call("chat.update", body={"channel": channel, "ts": ts, **message})

    async def delete(self, channel: str, ts: str) -> None:
        await self.call("chat.delete", body={"channel": channel, "ts": ts})

    async def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One top-level message by its ts, with its metadata."""
        data = await self.call(
            "conversations.history",
            params={
                "channel": channel,
                "latest": ts,
                "oldest": ts,
                "inclusive": "true",
                "limit": 1,
                "include_all_metadata": "true",
            },
        )
        for message in data.get("messages") or []:
            if isinstance(message, dict) and message.get("ts") == ts:
                return message
        raise RecordNotFound(f"Slack: no message {ts} in {channel}")

    async def history(
        self, channel: str, *, pages: int, page_size: int = 200
    ) -> list[dict[str, Any]]:
        """The channel's newest messages (with metadata), up to `pages` pages."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(pages):
            params: dict[str, str | int] = {
                "channel": channel,
                "limit": page_size,
                "include_all_metadata": "true",
            }
            if cursor:
                params["cursor"] = cursor
            data = await self.call("conversations.history", params=params)
            out.extend(m for m in data.get("messages") or [] if isinstance(m, dict))
            meta = data.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not data.get("has_more") or not cursor:
                break
        return out
