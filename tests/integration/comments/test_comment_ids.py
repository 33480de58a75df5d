"""Comments mapped id <-> id and deleted records, on a real redis-server with the Jira, Slack
and ServiceNow sandboxes over HTTP: the gate, the arbiter and delivery driven directly."""

from __future__ import annotations

import httpx
import pytest

from incident_sync.outbound.commentmap import CommentMap
from incident_sync.outbound.context import Context
from incident_sync.outbound.stages.arbiter.arbiter import Arbiter
from incident_sync.outbound.stages.delivery.delivery import Delivery
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    DeliveryCommand,
    FieldChange,
)
from incident_sync.syncstate import links
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


async def test_a_comment_is_copied_once_and_its_echo_is_known_by_id(
    ctx: Context, sandboxes: Sandboxes
) -> None:
    issue = await jira_issue(ctx, sandboxes)
    delivery, gate = Delivery(ctx), Gate(ctx)
    note = comment(CommentAction.ADDED, "PNOTE1", "Paging the DB team")
    assert (await delivery.process(command("prod-jira", issue, note))).outcome == "written"
    # the same note planned again (a redelivered PagerDuty webhook): no second copy
    assert (await delivery.process(command("prod-jira", issue, note))).outcome == "skipped"
    (copy,) = await jira_comments(sandboxes, issue)
    assert copy["body"] == "Paging the DB team"
    cmap = CommentMap(ctx.store.redis)
    assert await cmap.copy_of("default", PID, "prod-pd", "PNOTE1", "prod-jira") == copy["id"]
    assert await cmap.origin_of("default", PID, "prod-jira", copy["id"]) == "prod-pd:PNOTE1"

    # Jira's echo of our copy, twice under distinct delivery ids: the first is caught by the
    # fingerprint of our write, the second (nothing left to consume) by the comment id
    echo = jira_event(copy["id"], "Paging the DB team", "d1", issue)
    assert await decide(gate, echo) == "echo_comment"
    assert await decide(gate, echo.model_copy(update={"delivery_id": "d2"})) == "echo_comment"
    # a person writing the same words is a new comment
    person = jira_event("90001", "Paging the DB team", "d3", issue)
    result = await gate.process(person)
    assert result.reason == "passed" and result.linked is not None
    assert result.linked.event.comment == person.comment
    # once copied somewhere, the same "added" coming again is a duplicate
    await cmap.record_copy("default", PID, "prod-jira", "90001", "incidentio", None)
    again = person.model_copy(update={"delivery_id": "d4"})
    assert await decide(gate, again) == "duplicate_comment"


async def test_edits_and_deletes_follow_the_copy_where_the_tool_can(
    ctx: Context, sandboxes: Sandboxes
) -> None:
    delivery = Delivery(ctx)
    slack = (await ctx.connector("ops-slack").create(PID, {"title": "Orders delayed"})).external_id
    await ctx.store.link("default", PID, "ops-slack", slack)

    async def replies() -> list[str]:
        async with httpx.AsyncClient() as http:
            got = await http.get(f"{sandboxes.slack}/_sandbox/messages")
        return [r for m in got.json()["messages"] for r in m["replies"]]

    added = comment(CommentAction.ADDED, "c1", "Root cause: DNS")
    assert (await delivery.process(command("ops-slack", slack, added))).outcome == "written"
    assert await replies() == ["Root cause: DNS"]
    edited = comment(CommentAction.EDITED, "c1", "Root cause: expired certificate")
    assert (await delivery.process(command("ops-slack", slack, edited))).outcome == "written"
    assert await replies() == ["Root cause: expired certificate"]
    # the same edit again (its webhook delivered twice): the copy shows it already
    assert (await delivery.process(command("ops-slack", slack, edited))).outcome == "skipped"
    # a comment never copied there has nothing to follow
    other = comment(CommentAction.EDITED, "c2", "never copied")
    assert (await delivery.process(command("ops-slack", slack, other))).outcome == "skipped"
    deleted = comment(CommentAction.DELETED, "c1", None)
    assert (await delivery.process(command("ops-slack", slack, deleted))).outcome == "written"
    assert await replies() == []
    assert (await delivery.process(command("ops-slack", slack, deleted))).outcome == "skipped"


async def test_a_tool_without_comment_ids_gets_the_note_in_the_same_write(
    ctx: Context, sandboxes: Sandboxes
) -> None:
    delivery = Delivery(ctx)
    created = await delivery.process(
        DeliveryCommand(
            causation_id="c",
            platform_incident_id=PID,
            source_integration_id="incidentio",
            target_integration_id="prod-snow",
            set_fields={"title": "Disk full"},
        )
    )
    sys_id = created.external_id
    assert sys_id is not None

    async def writes() -> int:
        async with httpx.AsyncClient() as http:
            stats = (await http.get(f"{sandboxes.snow}/_sandbox/stats")).json()
        return int(stats["api_writes"].get(sys_id, 0))

    before = await writes()
    note = comment(CommentAction.ADDED, "PNOTE2", "Failing over")
    cmd = command("prod-snow", sys_id, note, title="Disk full on db-3")
    assert (await delivery.process(cmd)).outcome == "written"
    assert await writes() == before + 1  # one PATCH: the title and the work note
    again = command("prod-snow", sys_id, note)
    assert (await delivery.process(again)).outcome == "skipped"
    assert await writes() == before + 1
    # ServiceNow cannot edit a work note: an edit is not written there
    edit = command("prod-snow", sys_id, comment(CommentAction.EDITED, "PNOTE2", "x"))
    assert (await delivery.process(edit)).outcome == "skipped"


async def test_a_create_planned_twice_writes_only_what_the_record_lacks(
    ctx: Context, sandboxes: Sandboxes
) -> None:
    """The platform's "created" delivered twice while the first create is in flight: both
    plan a create; the second finds the record and writes nothing it already shows."""
    delivery = Delivery(ctx)

    def create(**fields: str) -> DeliveryCommand:
        return DeliveryCommand(
            causation_id="c",
            platform_incident_id=PID,
            source_integration_id="incidentio",
            target_integration_id="prod-snow",
            set_fields=fields,
        )

    first = await delivery.process(create(title="Disk full", description="db-3"))
    assert first.outcome == "created" and first.external_id is not None
    again = await delivery.process(create(title="Disk full", description="db-3"))
    assert (again.outcome, again.external_id) == ("skipped", first.external_id)
    # planned from a later state (a rename made meanwhile): only the rename is written
    renamed = await delivery.process(create(title="Disk full on db-3", description="db-3"))
    assert renamed.outcome == "written"
    async with httpx.AsyncClient() as http:
        stats = (await http.get(f"{sandboxes.snow}/_sandbox/stats")).json()
    log = [w for w in stats["api_write_log"] if w["id"] == first.external_id]
    assert [(w["op"], w["fields"]) for w in log][1:] == [("update", ["short_description"])]


async def test_a_deleted_record_is_unlinked_noted_and_not_made_again(
    ctx: Context, sandboxes: Sandboxes
) -> None:
    issue = await jira_issue(ctx, sandboxes)
    await ctx.store.link("default", PID, "prod-snow", "sys1")
    assert await links.linked_records(ctx.store.redis, "default", "prod-jira") == {issue: PID}
    gate, arbiter = Gate(ctx), Arbiter(ctx)
    deleted = ChangeEvent(
        delivery_id="del1",
        integration_id="prod-jira",
        external_id=issue,
        reference="OPS-1",
        kind=ChangeKind.DELETED,
    )
    result = await gate.process(deleted)
    assert result.reason == "passed" and result.linked is not None
    planned = await arbiter.process(result.linked)
    (note,) = planned.commands
    assert note.target_integration_id == "incidentio" and note.comment is not None
    assert note.comment.body is not None and "OPS-1 was deleted in prod-jira" in note.comment.body
    assert await ctx.store.links_of("default", PID) == {"prod-snow": "sys1"}
    assert await links.linked_records(ctx.store.redis, "default", "prod-jira") == {}
    # the delete again (a second delivery): the record is no longer linked
    again = deleted.model_copy(update={"delivery_id": "del2"})
    assert await decide(gate, again) == "unlinked"
    # a later platform change: no new Jira issue for this incident, the others still sync
    change = ChangeEvent(
        delivery_id="p1",
        integration_id="incidentio",
        external_id=PID,
        kind=ChangeKind.UPDATED,
        changes={"title": FieldChange(new="Renamed")},
    )
    linked = (await gate.process(change)).linked
    assert linked is not None and linked.detached == ("prod-jira",)
    targets = {c.target_integration_id for c in (await arbiter.process(linked)).commands}
    assert "prod-jira" not in targets and "prod-snow" in targets


async def test_an_unlinked_records_delete_goes_nowhere(ctx: Context) -> None:
    deleted = ChangeEvent(
        delivery_id="del9", integration_id="prod-jira", external_id="404", kind=ChangeKind.DELETED
    )
    assert await decide(Gate(ctx), deleted) == "unlinked"
