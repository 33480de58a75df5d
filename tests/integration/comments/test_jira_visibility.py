"""A comment copied into Jira Service Management by delivery is an internal note, and an
edit that follows the copy keeps it one (the Jira sandbox over HTTP, read as a REST client)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.delivery.delivery import Delivery
from incident_sync.syncmodel.events import CommentAction
from tests.integration.comments.helpers import Sandboxes, command, comment, jira_issue

pytestmark = pytest.mark.integration
INTERNAL = [{"key": "sd.public.comment", "value": {"internal": True}}]


async def rest_comments(sandboxes: Sandboxes, issue: str) -> list[dict[str, Any]]:
    auth = ("incident-sync@example.com", "sandbox-token")
    async with httpx.AsyncClient(base_url=sandboxes.jira, auth=auth) as api:
        got = await api.get(f"/rest/api/3/issue/{issue}/comment", params={"expand": "properties"})
    found: list[dict[str, Any]] = got.json()["comments"]
    return found


async def test_a_copied_comment_and_its_edit_stay_internal(
    ctx: Context, sandboxes: Sandboxes
) -> None:
    issue = await jira_issue(ctx, sandboxes)
    delivery = Delivery(ctx)
    added = comment(CommentAction.ADDED, "PNOTE1", "Paging the DB team")
    assert (await delivery.process(command("prod-jira", issue, added))).outcome == "written"
    edited = comment(CommentAction.EDITED, "PNOTE1", "Paging the DB and network teams")
    assert (await delivery.process(command("prod-jira", issue, edited))).outcome == "written"
    (copy,) = await rest_comments(sandboxes, issue)
    assert copy["body"]["content"][0]["content"][0]["text"] == "Paging the DB and network teams"
    assert (copy["properties"], copy["jsdPublic"]) == (INTERNAL, False)
