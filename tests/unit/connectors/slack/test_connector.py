"""The Slack notifier against the Slack sandbox: one message per incident, posted once and
then updated whole; comments as thread replies; nothing accepted inbound."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiohttp import web

from incident_sync.connectors.base import RecordNotFound, ToolError
from incident_sync.connectors.capabilities import ChangeFeed, Notifier, WebhookSource
from incident_sync.connectors.registry import make_connector
from incident_sync.connectors.slack.connector import SlackConnector
from incident_sync.connectors.slack.message import render, state_of
from incident_sync.sandbox.slack.app import build_app
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.fields import Direction
from tests.unit.connectors.sandbox_harness import Harness, running


def config(base_url: str = "https://slack.com/api", **extra: object) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "ops-slack",
            "type": "slack",
            "base_url": base_url,
            "api_key": "xoxb-sandbox-token",
            "options": {"channel": "C0SANDBOX01"},
            **extra,
        }
    )


@pytest.fixture
async def slack() -> AsyncIterator[Harness]:
    def build(_: str) -> web.Application:
        return build_app()

    async with running(build) as harness:
        yield harness


@pytest.fixture
async def connector(slack: Harness) -> AsyncIterator[SlackConnector]:
    conn = make_connector(config(f"{slack.url}/api"))
    assert isinstance(conn, SlackConnector)
    yield conn
    await conn.aclose()


async def messages(slack: Harness) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as client:
        data: list[dict[str, object]] = (await client.get(f"{slack.url}/_sandbox/messages")).json()[
            "messages"
        ]
        return data


def test_the_message_shows_the_incident_and_keeps_its_state() -> None:
    message = render("01HX", {"title": "DB <down>", "status": "closed", "priority": "P1"})
    assert message["text"] == "[CLOSED] DB <down>"
    assert "DB &lt;down&gt;" in message["blocks"][0]["text"]["text"]
    assert state_of(message) == (
        "01HX",
        {"title": "DB <down>", "status": "closed", "priority": "P1"},
    )
    assert state_of({"text": "someone else's message"}) == (None, {})


def test_no_delivery_is_accepted_and_the_direction_is_outbound() -> None:
    # A notifier has no webhook interface at all (the ingress answers 401 for it, see
    # tests/unit/ingress/test_webhooks.py) and no change feed.
    conn = SlackConnector(config())
    assert isinstance(conn, Notifier)
    assert not isinstance(conn, WebhookSource) and not isinstance(conn, ChangeFeed)
    assert config(direction="bidirectional").direction is Direction.OUTBOUND
    assert config().mapping().inbound_fields() == frozenset()


async def test_post_once_then_update_in_place(slack: Harness, connector: SlackConnector) -> None:
    record = await connector.create("01HINC", {"title": "Checkout down", "status": "open"})
    assert await connector.find_linked("01HINC") == record.external_id
    assert await connector.find_linked("01HOTHER") is None
    await connector.update(record.external_id, {"status": "closed", "assignee": "bob@example.com"})
    await connector.update(record.external_id, {"status": "closed"})  # unchanged: no update call
    (message,) = await messages(slack)
    assert message["text"] == "[CLOSED] Checkout down" and message["edited"] is True
    fetched = await connector.fetch(record.external_id)
    assert fetched.fields == {
        "title": "Checkout down",
        "status": "closed",
        "assignee": "bob@example.com",
    }
    assert fetched.platform_incident_id == "01HINC"
    methods = [r.path.rsplit("/", 1)[-1] for r in slack.requests if r.method == "POST"]
    assert methods == ["chat.postMessage", "chat.update"]
    update = next(r for r in slack.requests if r.path.endswith("chat.update"))
    assert orjson.loads(update.body)["ts"] == record.external_id.split(":")[1]


async def test_comments_are_thread_replies(slack: Harness, connector: SlackConnector) -> None:
    record = await connector.create("01HCOMM", {"title": "t", "comment": "first note"})
    await connector.update(record.external_id, {"comment": "second note"})
    reply = await connector.add_comment(record.external_id, "third")
    assert reply is not None
    await connector.edit_comment(record.external_id, reply, "third, edited")
    (message,) = await messages(slack)
    assert message["replies"] == ["first note", "second note", "third, edited"]
    await connector.delete_comment(record.external_id, reply)
    (message,) = await messages(slack)
    assert message["replies"] == ["first note", "second note"]


async def test_errors(slack: Harness, connector: SlackConnector) -> None:
    with pytest.raises(RecordNotFound):
        await connector.fetch("C0SANDBOX01:123.456")
    with pytest.raises(ToolError, match="not a <channel>:<ts>"):
        await connector.fetch("nope")
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{slack.url}/_sandbox/faults",
            json={"fail_status": 429, "fail_count": 1, "retry_after_s": 2},
        )
    with pytest.raises(ToolError) as caught:
        await connector.create("01HRATE", {"title": "t"})
    assert caught.value.retryable and caught.value.retry_after_s == 2.0
    wrong = SlackConnector(config(f"{slack.url}/api", options={"channel": "C0NOPE"}))
    with pytest.raises(ToolError, match="channel_not_found") as caught:
        await wrong.create("01HX", {"title": "t"})
    assert not caught.value.retryable
    await wrong.aclose()
    bad = SlackConnector(config(f"{slack.url}/api", api_key="xoxb-wrong"))
    with pytest.raises(ToolError, match="invalid_auth"):
        await bad.test_connection()
    await bad.aclose()
    await connector.test_connection()
