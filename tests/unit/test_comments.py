"""Comments mapped id <-> id, the pure part: which comment changes the planned writes carry,
and the note a deleted record leaves on the incident."""

from __future__ import annotations

from incident_sync.syncmodel.comments import by_comment_id, comment_changes, forced_changes
from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncmodel.deletes import deletion_note
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    CommentChange,
    FieldChange,
    LinkedEvent,
)
from incident_sync.syncmodel.routing import plan_deliveries

CONFIG = SyncConfig(
    platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://io"),
    integrations=(
        IntegrationConfig(id="prod-jira", type="jira", base_url="http://j", ownership={}),
        IntegrationConfig(id="prod-pd", type="pagerduty", base_url="http://p", ownership={}),
        IntegrationConfig(id="prod-snow", type="servicenow", base_url="http://s", ownership={}),
    ),
)
MAPPINGS = {s.id: s.mapping() for s in (CONFIG.platform, *CONFIG.integrations)}
LINKS = {"prod-jira": "10001", "prod-pd": "PD1", "prod-snow": "sys1"}


def jira_comment(action: CommentAction, body: str | None = "Rolled back") -> LinkedEvent:
    event = ChangeEvent(
        delivery_id="d",
        integration_id="prod-jira",
        external_id="10001",
        kind=ChangeKind.UPDATED,
        comment=CommentChange(action=action, comment_id="c7", body=body),
    )
    event = event.model_copy(update={"changes": comment_changes(event)})
    return LinkedEvent(event=event, platform_incident_id="INC1", is_platform=False, links=LINKS)


def planned(linked: LinkedEvent) -> list[tuple[str, dict[str, str | None], CommentChange | None]]:
    commands = by_comment_id(plan_deliveries(linked, CONFIG, MAPPINGS), linked)
    return [(c.target_integration_id, c.set_fields, c.comment) for c in commands]


def test_a_tool_comment_reaches_every_other_side_under_its_source_id() -> None:
    out = planned(jira_comment(CommentAction.ADDED))
    assert {target for target, _, _ in out} == {"incidentio", "prod-pd", "prod-snow"}
    for _, fields, change in out:
        assert fields == {}  # the comment travels as a CommentChange, not as a field
        assert change == CommentChange(
            action=CommentAction.ADDED, comment_id="c7", body="Rolled back"
        )


def test_edits_and_deletes_follow_to_every_other_linked_side() -> None:
    edited = planned(jira_comment(CommentAction.EDITED, "Rolled back to v41"))
    assert {(t, c.action, c.comment_id, c.body) for t, _, c in edited if c} == {
        (t, CommentAction.EDITED, "c7", "Rolled back to v41")
        for t in ("incidentio", "prod-pd", "prod-snow")
    }
    deleted = planned(jira_comment(CommentAction.DELETED, None))
    assert {(t, c.action, c.body) for t, _, c in deleted if c} == {
        (t, CommentAction.DELETED, None) for t in ("incidentio", "prod-pd", "prod-snow")
    }


def test_a_comment_without_an_id_gets_one_from_the_records_version() -> None:
    event = ChangeEvent(
        delivery_id="d",
        integration_id="incidentio",
        external_id="INC1",
        kind=ChangeKind.UPDATED,
        version="2030-01-01T00:00:00.000001Z",
        changes={"comment": FieldChange(new="Scaled out"), "title": FieldChange(new="T")},
    )
    linked = LinkedEvent(event=event, platform_incident_id="INC1", is_platform=True, links=LINKS)
    out = {t: (fields, change) for t, fields, change in planned(linked)}
    fields, change = out["prod-snow"]
    assert fields == {"title": "T"}
    assert change is not None and change.comment_id == "~2030-01-01T00:00:00.000001Z"
    assert change.action is CommentAction.ADDED and change.body == "Scaled out"


def test_creates_and_reassertions_carry_no_comment_change() -> None:
    event = ChangeEvent(
        delivery_id="d",
        integration_id="incidentio",
        external_id="INC1",
        kind=ChangeKind.UPDATED,
        changes={"comment": FieldChange(new="First note")},
    )
    linked = LinkedEvent(
        event=event,
        platform_incident_id="INC1",
        is_platform=True,
        links={},
        state={"title": "T", "comment": "First note"},
    )
    commands = by_comment_id(plan_deliveries(linked, CONFIG, MAPPINGS), linked)
    assert commands and all(c.is_create and c.comment is None for c in commands)
    assert all(c.set_fields.get("comment") == "First note" for c in commands)

    reassert = plan_deliveries(
        jira_comment(CommentAction.ADDED),
        CONFIG,
        MAPPINGS,
        accepted={},
        reassert={"title": FieldWrite("incidentio", "T", event.source_ts)},
    )
    assert [c.comment for c in by_comment_id(reassert, jira_comment(CommentAction.ADDED))] == [None]


def test_a_manual_refresh_does_not_copy_the_known_latest_entry_again() -> None:
    fresh = {"title": FieldChange(new="T"), "comment": FieldChange(new="Known note ")}
    assert forced_changes(fresh, {"title": "T", "comment": "Known note"}) == {
        "title": FieldChange(new="T")
    }
    assert forced_changes(fresh, {"comment": "Older note"}) == fresh


def test_a_deleted_record_leaves_a_note_on_the_platform_incident() -> None:
    event = ChangeEvent(
        delivery_id="d",
        integration_id="prod-jira",
        external_id="10001",
        reference="OPS-7",
        kind=ChangeKind.DELETED,
        actor="5b10a2844c2016570human",
    )
    linked = LinkedEvent(event=event, platform_incident_id="INC1", is_platform=False, links=LINKS)
    note = deletion_note(linked, CONFIG)
    assert note is not None
    assert (note.target_integration_id, note.target_external_id) == ("incidentio", "INC1")
    assert note.comment is not None and note.comment.comment_id == "deleted:10001"
    assert note.comment.body is not None and "OPS-7 was deleted in prod-jira" in note.comment.body
    assert plan_deliveries(linked, CONFIG, MAPPINGS) == []  # nothing else is written


def test_a_detached_integration_gets_no_new_record() -> None:
    event = ChangeEvent(
        delivery_id="d",
        integration_id="incidentio",
        external_id="INC1",
        kind=ChangeKind.UPDATED,
        changes={"title": FieldChange(new="Renamed")},
    )
    linked = LinkedEvent(
        event=event,
        platform_incident_id="INC1",
        is_platform=True,
        links={"prod-pd": "PD1", "prod-snow": "sys1"},
        detached=("prod-jira",),
        state={"title": "Renamed"},
    )
    targets = {c.target_integration_id for c in plan_deliveries(linked, CONFIG, MAPPINGS)}
    assert targets == {"prod-pd", "prod-snow"}
    undetached = linked.model_copy(update={"detached": ()})
    targets = {c.target_integration_id for c in plan_deliveries(undetached, CONFIG, MAPPINGS)}
    assert targets == {"prod-jira", "prod-pd", "prod-snow"}
