"""The arbiter's rules: direction, mapped fields, creates, never back to the source."""

from __future__ import annotations

from typing import Any

import pytest

from syncmodel.config import IntegrationConfig, SyncConfig
from syncmodel.events import ChangeEvent, ChangeKind, FieldChange, LinkedEvent
from syncmodel.mapping import load_mapping
from syncmodel.routing import plan_deliveries


def config(direction: str = "bidirectional", **features: bool) -> SyncConfig:
    return SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://io"),
        integrations=(
            IntegrationConfig(
                id="prod-snow", type="servicenow", base_url="http://sn", direction=direction
            ),
        ),
    )


MAPPINGS = {"incidentio": load_mapping(None), "prod-snow": load_mapping(None)}


def linked(
    source: str,
    changes: dict[str, str],
    *,
    kind: ChangeKind = ChangeKind.UPDATED,
    links: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
) -> LinkedEvent:
    event = ChangeEvent(
        delivery_id="d",
        integration_id=source,
        external_id="X",
        kind=kind,
        changes={k: FieldChange(new=v) for k, v in changes.items()},
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
