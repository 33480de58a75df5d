"""Why a change is not written somewhere (`syncmodel.skips`): the routing's rules read the
other way round, for the incident's timeline."""

from __future__ import annotations

from incident_sync.syncmodel.config import SyncConfig
from incident_sync.syncmodel.events import LinkedEvent
from incident_sync.syncmodel.routing import contributed, plan_deliveries
from incident_sync.syncmodel.skips import Skip, skips
from tests.unit.test_routing import MAPPINGS, config, linked


def why(event: LinkedEvent, cfg: SyncConfig) -> list[Skip]:
    return skips(event, cfg, MAPPINGS, contributed(event, cfg, MAPPINGS))


def test_a_field_the_platform_owns_is_skipped_on_the_tools_side() -> None:
    cfg = config(ownership={"title": {"owner": "platform"}})
    event = linked("prod-snow", {"title": "T", "description": "D"}, links={"prod-snow": "X"})
    assert why(event, cfg) == [Skip("prod-snow", "ownership", ("title",))]
    # ... and the plan agrees: only the description goes to the platform
    (cmd,) = plan_deliveries(event, cfg, MAPPINGS)
    assert cmd.set_fields == {"description": "D"}


def test_a_field_the_tool_owns_is_skipped_for_it_and_direction_names_the_side() -> None:
    owned = config(ownership={"title": {"owner": "external"}})
    event = linked("incidentio", {"title": "T"}, links={"prod-snow": "sys1"})
    assert why(event, owned) == [Skip("prod-snow", "ownership", ("title",))]
    inbound = config(direction="inbound")
    assert why(event, inbound) == [Skip("prod-snow", "direction", ("title",))]
    outbound = config(direction="outbound")
    tool_event = linked("prod-snow", {"title": "T"}, links={"prod-snow": "X"})
    assert why(tool_event, outbound) == [Skip("prod-snow", "direction", ("title",))]


def test_an_unlinked_tool_whose_trigger_does_not_match_is_skipped_for_trigger() -> None:
    cfg = config(trigger={"all": [{"field": "severity", "in": ["critical"]}]})
    event = linked("incidentio", {"title": "T"}, state={"title": "T", "severity": "minor"})
    assert why(event, cfg) == [Skip("prod-snow", "trigger", ("title",))]
    assert plan_deliveries(event, cfg, MAPPINGS) == []


def test_a_change_that_goes_everywhere_skips_nothing() -> None:
    event = linked("incidentio", {"title": "T"}, links={"prod-snow": "sys1"})
    assert why(event, config()) == []
