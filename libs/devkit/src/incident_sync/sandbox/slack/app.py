"""The Slack stand-in: chat.postMessage / chat.update / chat.delete, conversations.history,
auth.test; Bearer bot tokens; `ok: false` errors; writes counted per incident message."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from incident_sync.sandbox.base import (
    Controls,
    control_routes,
    counter_controls,
    found,
    sandbox_app,
)
from incident_sync.sandbox.faults import ApiFaults, fault_middleware
from incident_sync.sandbox.routes import Refusal, Routes

JSON = dict[str, Any]
CHANNELS = {"C0SANDBOX01": "incidents", "C0SANDBOX02": "general"}
# Slack's limits: a section's (or a context element's) text of 3,000 characters, beyond which
# the message is refused (`invalid_blocks`); a message's `text` is truncated after 40,000.
BLOCK_TEXT_MAX = 3_000
TEXT_MAX = 40_000


def _blocks_valid(blocks: object) -> bool:
    if blocks is None:
        return True
    if not isinstance(blocks, list):
        return False
    for block in blocks:
        if not isinstance(block, dict):
            return False
        texts = [block.get("text"), *(block.get("elements") or [])]
        for text in texts:
            if isinstance(text, dict) and len(str(text.get("text", ""))) > BLOCK_TEXT_MAX:
                return False
    return True


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str = "xoxb-sandbox-token"  # noqa: S105 - a sandbox default
    team_id: str = "T0SANDBOX"
    bot_user_id: str = "U0SYNCBOT"


@dataclass
class Message:
    ts: str
    channel: str
    text: str
    blocks: list[Any] | None
    metadata: JSON | None
    thread_ts: str | None = None
    edited: bool = False
    replies: list[Message] = field(default_factory=list)


@dataclass
class State:
    config: SlackConfig
    faults: ApiFaults
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    api_writes: Counter[str] = field(default_factory=Counter)  # "<channel>:<parent ts>"
    _last_ts: float = 0.0

    def next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"


STATE = web.AppKey("slack_state", State)
routes = Routes()  # handlers raise `Refusal`s: Slack's `ok: false` answers


def fail(error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error})


def render(message: Message, *, with_metadata: bool) -> JSON:
    out: JSON = {
        "type": "message",
        "user": "U0SYNCBOT",
        "bot_id": "B0SYNCBOT",
        "text": message.text,
        "ts": message.ts,
    }
    if message.blocks is not None:
        out["blocks"] = message.blocks
    if message.thread_ts is not None:
        out["thread_ts"] = message.thread_ts
    if message.replies:
        out["thread_ts"] = message.ts
        out["reply_count"] = len(message.replies)
    if message.edited:
        out["edited"] = {"user": "U0SYNCBOT", "ts": message.ts}
    if with_metadata and message.metadata is not None:
        out["metadata"] = message.metadata
    return out


async def _args(request: web.Request) -> JSON:
    """Web API arguments: query string, then a JSON or form body."""
    args: JSON = dict(request.query)
    if request.body_exists:
        raw = await request.read()
        if request.content_type == "application/json":
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                raise Refusal(fail("invalid_json")) from None
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update(parse_qsl(raw.decode()))
    return args


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        token = request.app[STATE].config.bot_token
        if request.headers.get("Authorization") != f"Bearer {token}":
            return fail("invalid_auth")
    response: web.StreamResponse = await handler(request)
    return response


def _channel(args: JSON) -> str:
    """The channel's id, by id or by name (`#incidents`), or else a `Refusal`
    (channel_not_found)."""
    channel = str(args.get("channel", ""))
    if channel in CHANNELS:
        return channel
    name = channel.lstrip("#")
    cid = next((cid for cid, cname in CHANNELS.items() if cname == name), None)
    return found(cid, lambda: fail("channel_not_found"))


async def _call(request: web.Request) -> tuple[State, JSON, str]:
    """The state, the call's arguments and the channel they name (or else a `Refusal`)."""
    args = await _args(request)
    return request.app[STATE], args, _channel(args)


def _metadata(args: JSON) -> JSON | None:
    metadata = args.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        raise ValueError("invalid_metadata_format")
    return metadata


@routes.route("*", "/api/auth.test")
async def auth_test(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    return web.json_response(
        {
            "ok": True,
            "url": "https://sandbox.slack.com/",
            "team": "Sandbox",
            "user": "incident-sync",
            "team_id": config.team_id,
            "user_id": config.bot_user_id,
            "bot_id": "B0SYNCBOT",
        }
    )


@routes.post("/api/chat.postMessage")
async def post_message(request: web.Request) -> web.Response:
    state, args, channel = await _call(request)
    if not args.get("text") and not args.get("blocks"):
        return fail("no_text")
    if not _blocks_valid(args.get("blocks")):
        return fail("invalid_blocks")
    try:
        metadata = _metadata(args)
    except (ValueError, json.JSONDecodeError):
        return fail("invalid_metadata_format")
    text = str(args.get("text", ""))[:TEXT_MAX]
    message = Message(state.next_ts(), channel, text, args.get("blocks"), metadata)
    thread_ts = args.get("thread_ts")
    if thread_ts:
        parent = state.messages.get((channel, str(thread_ts)))
        if parent is None:
            return fail("thread_not_found")
        message.thread_ts = parent.ts
        parent.replies.append(message)
        state.api_writes[f"{channel}:{parent.ts}"] += 1
    else:
        state.messages[(channel, message.ts)] = message
        state.api_writes[f"{channel}:{message.ts}"] += 1
    return web.json_response(
        {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": render(message, with_metadata=True),
        }
    )


def _find(state: State, channel: str, ts: str) -> tuple[Message, Message]:
    """(message, its top-level parent) by channel and ts, or else a `Refusal`
    (message_not_found)."""
    if (channel, ts) in state.messages:
        top = state.messages[(channel, ts)]
        return top, top
    for parent in state.messages.values():
        for reply in parent.replies:
            if parent.channel == channel and reply.ts == ts:
                return reply, parent
    raise Refusal(fail("message_not_found"))


@routes.post("/api/chat.update")
async def update_message(request: web.Request) -> web.Response:
    state, args, channel = await _call(request)
    message, parent = _find(state, channel, str(args.get("ts", "")))
    if not _blocks_valid(args.get("blocks")):
        return fail("invalid_blocks")
    if "text" in args:
        message.text = str(args["text"])[:TEXT_MAX]
    if "blocks" in args:
        message.blocks = args["blocks"]
    if "metadata" in args:
        try:
            message.metadata = _metadata(args)
        except (ValueError, json.JSONDecodeError):
            return fail("invalid_metadata_format")
    message.edited = True
    state.api_writes[f"{channel}:{parent.ts}"] += 1
    return web.json_response(
        {"ok": True, "channel": channel, "ts": message.ts, "text": message.text}
    )


@routes.post("/api/chat.delete")
async def delete_message(request: web.Request) -> web.Response:
    state, args, channel = await _call(request)
    message, parent = _find(state, channel, str(args.get("ts", "")))
    if message is parent:
        del state.messages[(channel, message.ts)]
    else:
        parent.replies.remove(message)
    state.api_writes[f"{channel}:{parent.ts}"] += 1
    return web.json_response({"ok": True, "channel": channel, "ts": message.ts})


@routes.route("*", "/api/conversations.history")
async def history(request: web.Request) -> web.Response:
    """Top-level messages, newest first; `latest`/`oldest`/`inclusive`, cursor paging."""
    state, args, channel = await _call(request)
    inclusive = str(args.get("inclusive", "false")).lower() in ("1", "true")
    try:
        latest = float(args["latest"]) if args.get("latest") else float("inf")
        oldest = float(args["oldest"]) if args.get("oldest") else 0.0
        limit = max(1, min(int(args.get("limit") or 100), 999))
        start = int(args.get("cursor") or 0)
    except (TypeError, ValueError):
        raise Refusal(fail("invalid_arguments")) from None

    def within(ts: float) -> bool:
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    found = sorted(
        (m for (c, _), m in state.messages.items() if c == channel and within(float(m.ts))),
        key=lambda m: float(m.ts),
        reverse=True,
    )
    page = found[start : start + limit]
    with_metadata = str(args.get("include_all_metadata", "false")).lower() in ("1", "true")
    more = start + limit < len(found)
    return web.json_response(
        {
            "ok": True,
            "messages": [render(m, with_metadata=with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }
    )


@routes.get("/_sandbox/messages")
async def ui_messages(request: web.Request) -> web.Response:
    """Every incident message with its replies, as a person scrolling the channel sees it."""
    state = request.app[STATE]
    out = []
    for (channel, ts), message in sorted(state.messages.items(), key=lambda kv: float(kv[0][1])):
        out.append(
            {
                "channel": channel,
                "ts": ts,
                "text": message.text,
                "metadata": message.metadata,
                "edited": message.edited,
                "replies": [r.text for r in message.replies],
            }
        )
    return web.json_response({"messages": out})


def _rate_limited(status: int) -> web.Response:
    if status == 429:
        return web.json_response({"ok": False, "error": "ratelimited"}, status=429)
    return web.json_response({"ok": False, "error": "service_unavailable"}, status=status)


def _controls(state: State) -> Controls:
    # Slack sends nothing back here: no webhook sender
    return counter_controls(state.api_writes, ("messages", state.messages), None, state.faults)


def build_app(config: SlackConfig | None = None) -> web.Application:
    state = State(config or SlackConfig(), ApiFaults())
    faults_mw = fault_middleware(lambda r: r.app[STATE].faults, ("/api/",), _rate_limited)
    return sandbox_app(
        STATE,
        state,
        sender=None,
        middlewares=[faults_mw, authenticate],
        routes=[routes, control_routes(STATE, _controls)],
    )
