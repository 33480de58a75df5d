"""The arbiter's rules: direction, mapped fields, creates, never back to the source."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange, LinkedEvent
from incident_sync.syncmodel.mapping import Features, FieldMapping, MappingConfig, default_mapping
from incident_sync.syncmodel.routing import plan_deliveries


def config(direction: str = "bidirectional", ownership: Any = None, **extra: Any) -> SyncConfig:
    """One ServiceNow integration; no ownership rules unless given (the seed-000 slice)."""
    return SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://io"),
        integrations=(
            IntegrationConfig.model_validate(
                {
                    "id": "prod-snow",
                    "type": "servicenow",
                    "base_url": "http://sn",
                    "direction": direction,
                    **({} if ownership == "defaults" else {"ownership": ownership or {}}),
                    **extra,
                }
            ),
        ),
    )


MAPPINGS = {"incidentio": default_mapping(), "prod-snow": default_mapping()}


def linked(
    source: str,
    changes: dict[str, str],
    *,
    old: dict[str, str] | None = None,
    kind: ChangeKind = ChangeKind.UPDATED,
    links: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
) -> LinkedEvent:
    event = ChangeEvent(
        delivery_id="d",
        integration_id=source,
        external_id="X",
        kind=kind,
        changes={k: FieldChange(old=(old or {}).get(k), new=v) for k, v in changes.items()},
    )
    return LinkedEvent(
        event=event,
        platform_incident_id="INC1",
        is_platform=source == "incidentio",
        links=links or {},
        state=state or dict(changes),
    )


def test_platform_change_to_linked_tool_carries_only_mapped_fields() -> None:
    cmds = plan_deliveries(
        linked("incidentio", {"title": "T", "severity": "critical"}, links={"prod-snow": "sys1"}),
        config(),
        MAPPINGS,
    )
    assert [(c.target_integration_id, c.target_external_id, c.set_fields) for c in cmds] == [
        ("prod-snow", "sys1", {"title": "T"})
    ]
    assert cmds[0].source_integration_id == "incidentio"


def test_unlinked_tool_gets_a_create_with_the_full_state() -> None:
    event = linked(
        "incidentio",
        {"title": "T2"},
        state={"title": "T2", "description": "D", "comment": "", "status": "open"},
    )
    (cmd,) = plan_deliveries(event, config(), MAPPINGS)
    assert cmd.is_create and cmd.set_fields == {"title": "T2", "description": "D"}


def test_tool_change_goes_to_the_platform_only() -> None:
    cmds = plan_deliveries(
        linked("prod-snow", {"title": "from snow"}, links={"prod-snow": "X"}), config(), MAPPINGS
    )
    assert [(c.target_integration_id, c.target_external_id) for c in cmds] == [
        ("incidentio", "INC1")
    ]


def test_nothing_is_written_back_to_its_source() -> None:
    for source in ("incidentio", "prod-snow"):
        cmds = plan_deliveries(
            linked(source, {"title": "x"}, links={"prod-snow": "X"}), config(), MAPPINGS
        )
        assert all(c.target_integration_id != source for c in cmds)


@pytest.mark.parametrize(
    ("direction", "from_platform", "from_tool"),
    [("bidirectional", 1, 1), ("outbound", 1, 0), ("inbound", 0, 1)],
)
def test_directions(direction: str, from_platform: int, from_tool: int) -> None:
    cfg = config(direction)
    links = {"prod-snow": "X"}
    assert (
        len(plan_deliveries(linked("incidentio", {"title": "a"}, links=links), cfg, MAPPINGS))
        == from_platform
    )
    assert (
        len(plan_deliveries(linked("prod-snow", {"title": "a"}, links=links), cfg, MAPPINGS))
        == from_tool
    )


def test_unmapped_tool_change_goes_nowhere() -> None:
    # status is not taken in while sync_status is off
    assert (
        plan_deliveries(
            linked("prod-snow", {"status": "closed"}, links={"prod-snow": "X"}), config(), MAPPINGS
        )
        == []
    )


def test_deletes_are_not_propagated() -> None:
    event = linked("incidentio", {"title": "x"}, kind=ChangeKind.DELETED)
    assert plan_deliveries(event, config(), MAPPINGS) == []


# -- ownership ---------------------------------------------------------------------------------
def test_default_ownership_ignores_inbound_changes_to_platform_owned_fields() -> None:
    cfg = config(ownership="defaults")
    cmds = plan_deliveries(
        linked("prod-snow", {"title": "t", "description": "d"}, links={"prod-snow": "X"}),
        cfg,
        MAPPINGS,
    )
    assert cmds == []  # ServiceNow: the platform owns title and description


def test_external_owned_fields_are_not_written_out() -> None:
    cfg = config(ownership={"title": {"owner": "external", "priority": 5}})
    cmds = plan_deliveries(
        linked("incidentio", {"title": "T", "description": "D"}, links={"prod-snow": "sys1"}),
        cfg,
        MAPPINGS,
    )
    assert [c.set_fields for c in cmds] == [{"description": "D"}]
    back = plan_deliveries(
        linked("prod-snow", {"title": "from snow"}, links={"prod-snow": "X"}), cfg, MAPPINGS
    )
    assert [(c.target_integration_id, c.set_fields) for c in back] == [
        ("incidentio", {"title": "from snow"})
    ]


def test_a_create_skips_external_owned_fields() -> None:
    cfg = config(ownership={"description": {"owner": "external"}})
    event = linked("incidentio", {"title": "T"}, state={"title": "T", "description": "D"})
    (cmd,) = plan_deliveries(event, cfg, MAPPINGS)
    assert cmd.is_create and cmd.set_fields == {"title": "T"}


# -- fan-out -----------------------------------------------------------------------------------
def two_tools(**second: Any) -> SyncConfig:
    return SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://io"),
        integrations=(
            IntegrationConfig(id="snow-a", type="servicenow", base_url="http://a", ownership={}),
            IntegrationConfig.model_validate(
                {"id": "snow-b", "type": "servicenow", "base_url": "http://b", "ownership": {}}
                | second
            ),
        ),
    )


FAN_MAPPINGS = {k: default_mapping() for k in ("incidentio", "snow-a", "snow-b")}


def test_a_tools_change_fans_out_to_the_platform_and_every_other_linked_tool() -> None:
    links = {"snow-a": "A1", "snow-b": "B1"}
    cmds = plan_deliveries(linked("snow-a", {"title": "x"}, links=links), two_tools(), FAN_MAPPINGS)
    assert sorted((c.target_integration_id, c.target_external_id) for c in cmds) == [
        ("incidentio", "INC1"),
        ("snow-b", "B1"),
    ]


def test_fan_out_respects_each_targets_direction_and_ownership() -> None:
    links = {"snow-a": "A1", "snow-b": "B1"}
    inbound_only = two_tools(direction="inbound")
    cmds = plan_deliveries(
        linked("snow-a", {"title": "x"}, links=links), inbound_only, FAN_MAPPINGS
    )
    assert [c.target_integration_id for c in cmds] == ["incidentio"]
    owns_title = two_tools(ownership={"title": {"owner": "external"}})
    cmds = plan_deliveries(linked("snow-a", {"title": "x"}, links=links), owns_title, FAN_MAPPINGS)
    assert [c.target_integration_id for c in cmds] == ["incidentio"]


# -- trigger filter ----------------------------------------------------------------------------
def test_a_trigger_links_only_matching_incidents_and_later_matches_start_syncing() -> None:
    cfg = config(trigger={"all": [{"field": "severity", "in": ["critical", "major"]}]})
    minor = linked("incidentio", {"title": "T"}, state={"title": "T", "severity": "minor"})
    assert plan_deliveries(minor, cfg, MAPPINGS) == []
    now_major = linked(
        "incidentio", {"severity": "Major"}, state={"title": "T", "severity": "Major"}
    )
    (cmd,) = plan_deliveries(now_major, cfg, MAPPINGS)
    assert cmd.is_create and cmd.set_fields == {"title": "T"}
    # once linked it keeps syncing, whatever the severity becomes
    linked_minor = linked(
        "incidentio",
        {"title": "T2", "severity": "minor"},
        links={"prod-snow": "sys1"},
        state={"title": "T2", "severity": "minor"},
    )
    assert [c.set_fields for c in plan_deliveries(linked_minor, cfg, MAPPINGS)] == [{"title": "T2"}]


# -- reopen policy -----------------------------------------------------------------------------
STATUS_ON = {
    "incidentio": default_mapping(),
    "prod-snow": FieldMapping(
        MappingConfig(
            features=Features(sync_status=True),
            field_mappings={
                "incident.name": "short_description",
                "incident.status": "incident_state",
                "incident.most_recent_update_message": "work_notes",
            },
        )
    ),
}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("reopen", {"status": "open"}), ("comment", {"comment": None})],
)
def test_a_reopen_follows_the_targets_policy(policy: str, expected: dict[str, Any]) -> None:
    cfg = config(reopen=policy)
    event = linked(
        "incidentio", {"status": "open"}, old={"status": "closed"}, links={"prod-snow": "sys1"}
    )
    (cmd,) = plan_deliveries(event, cfg, STATUS_ON)
    assert set(cmd.set_fields) == set(expected)
    if policy == "comment":
        assert "reopened" in (cmd.set_fields["comment"] or "")
    else:
        assert cmd.set_fields == expected


def test_closing_is_never_a_reopen() -> None:
    cfg = config(reopen="comment")
    event = linked(
        "incidentio", {"status": "closed"}, old={"status": "open"}, links={"prod-snow": "sys1"}
    )
    assert [c.set_fields for c in plan_deliveries(event, cfg, STATUS_ON)] == [{"status": "closed"}]


# -- re-assertion of conflict winners ----------------------------------------------------------
def test_a_lost_late_change_gets_the_winner_written_back_and_goes_nowhere_else() -> None:
    winner = FieldWrite("incidentio", "platform title", datetime(2026, 1, 1, tzinfo=UTC))
    event = linked("prod-snow", {"title": "older"}, links={"prod-snow": "X"})
    cmds = plan_deliveries(event, config(), MAPPINGS, accepted={}, reassert={"title": winner})
    assert [(c.target_integration_id, c.target_external_id, c.set_fields) for c in cmds] == [
        ("prod-snow", "X", {"title": "platform title"})
    ]
    assert cmds[0].source_integration_id == "incidentio"
