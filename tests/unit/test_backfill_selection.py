"""Backfill's pure rules (`syncmodel.backfill`): which existing incidents get a record in an
integration (its trigger, the status filter, no link, not detached), in a stable order, and
the refresh that asks the pipeline for one (delivered to that integration only, forced as a
reconciler's, with a delivery id a resumed job repeats)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_sync.syncmodel.backfill import Incident, StatusFilter, backfill_event, select
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeKind, Origin
from incident_sync.syncmodel.trigger import Trigger

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PAYMENTS = Trigger.model_validate({"all": [{"field": "custom.Team", "equals": "Payments"}]})


def snow(trigger: Trigger | None = PAYMENTS) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {"id": "prod-snow", "type": "servicenow", "base_url": "https://x.example",
         "trigger": trigger.model_dump(by_alias=True, exclude_none=True) if trigger else None}
    )  # fmt: skip


def incident(n: int, team: str = "Payments", status: str = "open", age_h: int = 0) -> Incident:
    return Incident(
        id=f"01J{n}",
        fields={"title": f"Outage {n}", "status": status, "custom.Team": team},
        reference=f"INC-{n}",
        created=NOW - timedelta(hours=age_h),
    )


def test_only_matching_open_unlinked_incidents_are_chosen_oldest_first() -> None:
    listed = [
        incident(1, age_h=1),
        incident(2, age_h=5),
        incident(3, team="Search"),
        incident(4, status="closed"),
        incident(5),
        incident(6),
    ]
    chosen = select(listed, snow(), StatusFilter.OPEN, linked={"01J5"}, detached={"01J6"})
    assert [i.id for i in chosen.chosen] == ["01J2", "01J1"]
    assert chosen.not_matching == ["01J3"]
    assert chosen.closed == ["01J4"]
    assert chosen.linked == ["01J5"] and chosen.detached == ["01J6"]


def test_all_takes_closed_ones_and_no_trigger_matches_everything() -> None:
    listed = [incident(1, status="closed"), incident(2, team="Search")]
    assert [i.id for i in select(listed, snow(), StatusFilter.ALL, linked=set(),
                                 detached=set()).chosen] == ["01J1"]  # fmt: skip
    everything = select(listed, snow(None), StatusFilter.ALL, linked=set(), detached=set())
    assert {i.id for i in everything.chosen} == {"01J1", "01J2"}


def test_the_order_is_stable_whatever_the_listing_order() -> None:
    listed = [incident(n, age_h=n % 3) for n in range(9)]
    once = select(listed, snow(), StatusFilter.OPEN, linked=set(), detached=set())
    again = select(listed[::-1], snow(), StatusFilter.OPEN, linked=set(), detached=set())
    assert [i.id for i in once.chosen] == [i.id for i in again.chosen]


def test_the_refresh_is_delivered_to_the_integration_only_and_repeats_its_id() -> None:
    event = backfill_event("default", "incidentio", "prod-snow", "01J1", job_id="bkf-1", now=NOW)
    assert event.kind is ChangeKind.REFRESH and event.origin is Origin.RECONCILER
    assert event.integration_id == "incidentio" and event.external_id == "01J1"
    assert event.platform_incident_id == "01J1" and event.deliver_to == ("prod-snow",)
    later = backfill_event("default", "incidentio", "prod-snow", "01J1", job_id="bkf-1",
                           now=NOW + timedelta(minutes=5))  # fmt: skip
    assert later.delivery_id == event.delivery_id  # a resumed job's copy is deduplicated
    other = backfill_event("default", "incidentio", "prod-snow", "01J1", job_id="bkf-2", now=NOW)
    assert other.delivery_id != event.delivery_id  # a rerun is a new ask
