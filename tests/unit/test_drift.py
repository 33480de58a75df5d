"""Drift rules (syncmodel.drift): which fields are compared, which way each heals, and the
corrective events, over the real field mappings and ownership defaults."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_sync.syncmodel.config import IntegrationConfig, SyncConfig
from incident_sync.syncmodel.conflicts import FieldWrite
from incident_sync.syncmodel.drift import (
    DriftType,
    Flow,
    Heal,
    LinkSides,
    MissingPolicy,
    Side,
    compare,
    flows,
    heal_events,
    missing,
    recreate_event,
)
from incident_sync.syncmodel.events import ChangeKind, FieldChange, LinkedEvent, Origin
from incident_sync.syncmodel.mapping import MappingConfig
from incident_sync.syncmodel.routing import plan_deliveries

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def snow(**extra: Any) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {"id": "prod-snow", "type": "servicenow", "base_url": "http://sn", **extra}
    )


def jira(**extra: Any) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {"id": "prod-jira", "type": "jira", "base_url": "http://jira", **extra}
    )


def test_flows_follow_the_mapping_direction_and_ownership() -> None:
    shared = snow(ownership={})
    assert flows(shared, shared.mapping()) == {"title": Flow.SHARED, "description": Flow.SHARED}
    # The type's defaults: the platform owns ServiceNow's title and description.
    owned = snow()
    assert flows(owned, owned.mapping()) == {
        "title": Flow.PLATFORM_AUTHORITY,
        "description": Flow.PLATFORM_AUTHORITY,
    }
    # A status taken in but never written out: only the tool's news is drift.
    status_in = snow(ownership={}, field_map=MappingConfig.model_validate(
        {"features": {"sync_status": True}}))  # fmt: skip
    assert flows(status_in, status_in.mapping())["status"] is Flow.EXTERNAL_NEWS_ONLY
    # A one-way integration mirrors its source.
    outbound = snow(ownership={}, direction="outbound")
    assert set(flows(outbound, outbound.mapping()).values()) == {Flow.PLATFORM_AUTHORITY}
    j = jira()
    jf = flows(j, j.mapping())
    assert jf["priority"] is Flow.PLATFORM_AUTHORITY and jf["severity"] is Flow.PLATFORM_AUTHORITY
    assert jf["assignee"] is Flow.EXTERNAL_AUTHORITY and jf["status"] is Flow.SHARED
    assert "comment" not in jf  # an append stream, never compared


def side(fields: Mapping[str, str | None], known: Mapping[str, str | None] | None = None) -> Side:
    return Side(fields=fields, known=known or {}, version="0000000007", updated_at=T0)


SHARED = {"title": Flow.SHARED}


def heal_of(platform: Side, external: Side, fl: dict[str, Flow] = SHARED, **kw: Any) -> Heal:
    (d,) = compare("P1", "R1", platform, external, fl, **kw)
    assert d.type is DriftType.MISMATCH and d.field == "title"
    return d.heal


def test_equal_values_are_no_drift_even_with_different_whitespace() -> None:
    assert compare("P1", "R1", side({"title": "A b "}), side({"title": "A b"}), SHARED) == []
    # A field one record does not carry cannot be compared.
    assert compare("P1", "R1", side({"title": "A"}), side({}), SHARED) == []


def test_the_side_that_changed_behind_the_pipelines_back_is_taken_in() -> None:
    known = {"title": "old"}
    assert heal_of(side({"title": "old"}, known), side({"title": "new"}, known)) is (
        Heal.TAKE_EXTERNAL
    )
    assert heal_of(side({"title": "new"}, known), side({"title": "old"}, known)) is (
        Heal.TAKE_PLATFORM
    )
    both = heal_of(side({"title": "p"}, known), side({"title": "t"}, known))
    assert both is Heal.CONFLICT


def test_a_write_that_never_landed_is_pushed_from_the_standing_value() -> None:
    p, t = side({"title": "new"}, {"title": "new"}), side({"title": "old"}, {"title": "old"})
    assert heal_of(p, t) is Heal.PUSH_PLATFORM  # nothing known: the platform's value
    standing = {"title": FieldWrite("prod-snow", "old", T0)}
    assert heal_of(p, t, standing=standing) is Heal.PUSH_EXTERNAL


def test_the_owner_is_pushed_unless_it_has_news() -> None:
    fl = {"title": Flow.PLATFORM_AUTHORITY}
    known = {"title": "P"}
    # Someone edited the platform-owned title in the tool: the platform's value goes back.
    assert heal_of(side({"title": "P"}, known), side({"title": "X"}, known), fl) is (
        Heal.PUSH_PLATFORM
    )
    assert heal_of(side({"title": "P2"}, known), side({"title": "P"}, known), fl) is (
        Heal.TAKE_PLATFORM
    )
    fl = {"title": Flow.EXTERNAL_AUTHORITY}
    assert heal_of(side({"title": "X"}, known), side({"title": "P"}, known), fl) is (
        Heal.PUSH_EXTERNAL
    )


def test_news_only_fields_and_parked_fields() -> None:
    fl = {"title": Flow.EXTERNAL_NEWS_ONLY}
    known = {"title": "a"}
    # The receiving side set its own value: not drift.
    assert compare("P1", "R1", side({"title": "b"}, known), side({"title": "a"}, known), fl) == []
    assert heal_of(side({"title": "a"}, known), side({"title": "c"}, known), fl) is (
        Heal.TAKE_EXTERNAL
    )
    assert heal_of(side({"title": "a"}), side({"title": "c"}), parked={"title"}) is Heal.NONE


def test_missing_records_follow_the_policy() -> None:
    gone = missing("P1", "R1", platform_gone=False, policy=MissingPolicy.RECREATE)
    assert (gone.type, gone.heal) == (DriftType.MISSING_EXTERNAL, Heal.RECREATE)
    gone = missing("P1", "R1", platform_gone=True, policy=MissingPolicy.RECREATE)
    assert (gone.type, gone.heal) == (DriftType.MISSING_PLATFORM, Heal.UNLINK)
    assert missing("P1", "R1", platform_gone=False, policy=MissingPolicy.REPORT).heal is Heal.NONE


def link(platform: Side, external: Side) -> LinkSides:
    return LinkSides("default", "incidentio", "prod-snow", "P1", "R1", platform, external)


def test_a_take_carries_the_change_as_the_lost_webhook_would() -> None:
    known = {"title": "old", "description": "d"}
    external = Side({"title": "new", "description": "d2"}, known, "0000000009", T0, "INC001")
    sides = link(side({"title": "old", "description": "d"}, known), external)
    found = compare("P1", "R1", sides.platform, external, {"title": Flow.SHARED,
                                                           "description": Flow.SHARED})  # fmt: skip
    (event,) = heal_events(sides, found, run_id="rec-1", now=T0 + timedelta(hours=1))
    assert event.kind is ChangeKind.UPDATED and event.origin is Origin.RECONCILER
    assert (event.integration_id, event.external_id) == ("prod-snow", "R1")
    assert {f: (c.old, c.new) for f, c in event.changes.items()} == {
        "title": ("old", "new"),
        "description": ("d", "d2"),
    }
    assert event.version == "0000000009" and event.source_ts == T0
    assert event.delivery_id == "reconcile:rec-1:prod-snow:R1:take"
    assert event.deliver_to == ()  # news goes everywhere it would have gone


def test_a_push_refreshes_the_authority_for_this_link_only() -> None:
    known = {"title": "P"}
    sides = link(side({"title": "P"}, known), side({"title": "X"}, known))
    found = compare("P1", "R1", sides.platform, sides.external, {"title": Flow.PLATFORM_AUTHORITY})
    earlier = T0 - timedelta(minutes=5)
    standing = {"title": FieldWrite("incidentio", "P", earlier)}
    (event,) = heal_events(sides, found, run_id="rec-1", now=T0, standing=standing)
    assert event.kind is ChangeKind.REFRESH and event.only_fields == ("title",)
    assert (event.integration_id, event.external_id) == ("incidentio", "P1")
    assert event.deliver_to == ("prod-snow",)
    assert event.source_ts == earlier  # dated by the value it carries: newer changes win
    # ... and names that value: the gate pushes it only if the record still shows it.
    assert {f: c.new for f, c in event.changes.items()} == {"title": "P"}


def test_reported_only_discrepancies_send_nothing() -> None:
    sides = link(side({"title": "a"}), side({"title": "b"}))
    found = compare("P1", "R1", sides.platform, sides.external, SHARED, parked={"title"})
    assert found and heal_events(sides, found, run_id="rec-1", now=T0) == []


def test_deliver_to_keeps_the_writes_to_the_healed_link() -> None:
    config = SyncConfig(
        platform=IntegrationConfig(id="incidentio", type="incidentio", base_url="http://io"),
        integrations=(snow(ownership={}), jira(ownership={})),
    )
    mappings = {s.id: s.mapping() for s in (config.platform, *config.integrations)}
    event = recreate_event("default", "incidentio", "prod-snow", "P1", run_id="rec-1", now=T0)
    assert event.deliver_to == ("prod-snow",) and event.kind is ChangeKind.REFRESH
    refreshed = event.model_copy(
        update={"kind": ChangeKind.UPDATED, "changes": {"title": FieldChange(new="T")}}
    )
    linked = LinkedEvent(
        event=refreshed,
        platform_incident_id="P1",
        is_platform=True,
        state={"title": "T", "description": "D"},
        links={"prod-jira": "10001"},
    )
    (command,) = plan_deliveries(linked, config, mappings)
    # Jira is linked too but not named: only the create in ServiceNow is planned.
    assert command.target_integration_id == "prod-snow" and command.is_create
    assert command.set_fields == {"title": "T", "description": "D"}
    everyone = linked.model_copy(
        update={"event": linked.event.model_copy(update={"deliver_to": ()})}
    )
    targets = {c.target_integration_id for c in plan_deliveries(everyone, config, mappings)}
    assert targets == {"prod-snow", "prod-jira"}


def test_the_tools_stored_form_of_our_write_is_no_drift() -> None:
    """What the tool stored for our write (cut, normalised, or its default for our empty
    value) is our value as long as the record still shows it."""
    cases = [
        # (platform value, what we sent, what the tool stored)
        ("t" * 300, "t" * 300, "t" * 242 + "… [truncated]"),  # cut to the tool's limit
        ("Disk  full", "Disk  full", "Disk full"),  # a business rule collapsed the spaces
        (None, None, "P3"),  # the tool's default where we sent nothing
    ]
    for p, sent, stored in cases:
        platform = side({"title": p}, {"title": p})
        external = Side(fields={"title": stored}, known={"title": stored}, sent={"title": sent})
        assert compare("P1", "R1", platform, external, SHARED) == [], (p, stored)
        # The platform moved on: a real difference again, healed by the platform's news.
        moved = side({"title": "new"}, {"title": p})
        assert heal_of(moved, external) is Heal.TAKE_PLATFORM
        # A person changed the tool's value: news from the tool.
        edited = Side(fields={"title": "edited"}, known={"title": stored}, sent={"title": sent})
        assert heal_of(platform, edited) is Heal.TAKE_EXTERNAL
