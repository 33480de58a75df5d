"""Builders and readers shared by the comment tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    CommentChange,
    DeliveryCommand,
    FieldChange,
)

PID = "01INCIDENT"


@dataclass
class Sandboxes:
    jira: str
    slack: str
    snow: str


def comment(action: CommentAction, cid: str, body: str | None) -> CommentChange:
    return CommentChange(action=action, comment_id=cid, body=body)


def command(target: str, record: str, change: CommentChange, **fields: str) -> DeliveryCommand:
    return DeliveryCommand(
        causation_id="e",
        platform_incident_id=PID,
        source_integration_id="prod-pd",
        target_integration_id=target,
        target_external_id=record,
        set_fields=dict(fields),
        comment=change,
    )


def jira_event(cid: str, body: str, delivery: str, issue: str) -> ChangeEvent:
    return ChangeEvent(
        delivery_id=delivery,
        integration_id="prod-jira",
        external_id=issue,
        kind=ChangeKind.UPDATED,
        changes={"comment": FieldChange(new=body)},
        comment=CommentChange(action=CommentAction.ADDED, comment_id=cid, body=body),
        actor=None,  # Jira names no actor for us here: `actor` is not configured
    )


async def jira_issue(ctx: Context, sandboxes: Sandboxes) -> str:
    async with httpx.AsyncClient(base_url=sandboxes.jira) as ui:
        issue = (await ui.post("/_sandbox/issues", json={"summary": "Comments"})).json()
    await ctx.store.link("default", PID, "prod-jira", issue["id"])
    return str(issue["id"])


async def jira_comments(sandboxes: Sandboxes, issue: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sandboxes.jira) as ui:
        found: list[dict[str, Any]] = (await ui.get(f"/_sandbox/issues/{issue}")).json()["comments"]
    return found


async def decide(gate: Gate, event: ChangeEvent) -> str:
    result = await gate.process(event)
    await gate.mark_done(event)
    return result.reason
