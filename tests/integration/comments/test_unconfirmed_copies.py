"""A comment copy whose write went out but was never confirmed (the worker died before its
id was mapped, or the request timed out): adopted from the tool's echo, not written twice."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.outbound import comments
from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.delivery.delivery import Delivery
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.syncmodel.events import (
    CommentAction,
)
from tests.integration.comments.helpers import (
    PID,
    Sandboxes,
    command,
    comment,
    decide,
    jira_comments,
    jira_event,
    jira_issue,
)

pytestmark = pytest.mark.integration


async def test_a_copy_whose_write_died_unmapped_is_adopted_from_its_echo(
    ctx: Context, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = await jira_issue(ctx, sandboxes)
    delivery, gate = Delivery(ctx), Gate(ctx)
    cmap = delivery.comments.map
    body = "Failing over to the replica"
    note = command("prod-jira", issue, comment(CommentAction.ADDED, "PNOTE7", body))

    async def worker_dies(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SIGKILL")  # after the tool's answer, before the id is mapped

    with monkeypatch.context() as patch:
        patch.setattr(cmap, "record_copy", worker_dies)
        with pytest.raises(RuntimeError):
            await delivery.process(note)
    (copy,) = await jira_comments(sandboxes, issue)
    assert await cmap.copy_of("default", PID, "prod-pd", "PNOTE7", "prod-jira") is None

    # redelivered before the echo reached the gate: it waits for the echo, it does not write
    waiting = await delivery.process(note)
    assert waiting.outcome == "deferred" and waiting.error == "comment_unconfirmed"
    assert waiting.until is not None and waiting.until > time.time()
    # the echo: dropped as ours, and adopted as the copy
    assert await decide(gate, jira_event(copy["id"], body, "d7", issue)) == "echo_comment"
    assert await cmap.copy_of("default", PID, "prod-pd", "PNOTE7", "prod-jira") == copy["id"]
    assert await cmap.origin_of("default", PID, "prod-jira", copy["id"]) == "prod-pd:PNOTE7"
    # delivered again: found copied, nothing written
    assert (await delivery.process(note)).outcome == "skipped"
    assert [c["id"] for c in await jira_comments(sandboxes, issue)] == [copy["id"]]


async def test_an_unconfirmed_copy_with_no_echo_is_written_after_the_wait(
    ctx: Context, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = await jira_issue(ctx, sandboxes)
    delivery = Delivery(ctx)
    jira = ctx.connector("prod-jira")
    note = command("prod-jira", issue, comment(CommentAction.ADDED, "PNOTE8", "DNS flushed"))
    monkeypatch.setattr(comments, "UNCONFIRMED_WAIT_S", 0.3)

    async def times_out(*args: object) -> str:
        raise ToolError("timed out", retryable=True)  # no answer: it may or may not be there

    with monkeypatch.context() as patch:
        patch.setattr(jira, "add_comment", times_out)
        assert (await delivery.process(note)).outcome == "failed"
    assert (await delivery.process(note)).outcome == "deferred"
    await asyncio.sleep(0.35)  # no echo came: it never reached the tool
    assert (await delivery.process(note)).outcome == "written"
    assert [c["body"] for c in await jira_comments(sandboxes, issue)] == ["DNS flushed"]

    # a refusal the tool answered wrote nothing: the retry writes at once, without waiting
    other = command("prod-jira", issue, comment(CommentAction.ADDED, "PNOTE9", "Paged DBA"))

    async def refused(*args: object) -> str:
        raise ToolError("503 Service Unavailable", status=503, retryable=True)

    with monkeypatch.context() as patch:
        patch.setattr(jira, "add_comment", refused)
        assert (await delivery.process(other)).outcome == "failed"
    assert (await delivery.process(other)).outcome == "written"
    bodies = [c["body"] for c in await jira_comments(sandboxes, issue)]
    assert bodies == ["DNS flushed", "Paged DBA"]


async def test_where_no_echo_can_come_a_retry_does_not_wait_for_one(
    ctx: Context, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = Delivery(ctx)
    slack = ctx.connector("ops-slack")  # Slack sends no webhooks: our replies never echo
    thread = (await slack.create(PID, {"title": "Orders delayed"})).external_id
    await ctx.store.link("default", PID, "ops-slack", thread)
    note = command("ops-slack", thread, comment(CommentAction.ADDED, "PNOTE10", "Cache warmed"))

    async def times_out(*args: object) -> str:
        raise ToolError("timed out", retryable=True)

    with monkeypatch.context() as patch:
        patch.setattr(slack, "add_comment", times_out)
        assert (await delivery.process(note)).outcome == "failed"
    assert (await delivery.process(note)).outcome == "written"
    async with httpx.AsyncClient() as http:
        got = (await http.get(f"{sandboxes.slack}/_sandbox/messages")).json()
    assert [r for m in got["messages"] for r in m["replies"]] == ["Cache warmed"]
