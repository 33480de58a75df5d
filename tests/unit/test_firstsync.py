"""The first sync of a pair just linked (`syncmodel.firstsync`): a refresh of the record (of
the incident for an outbound-only integration); with `--initial`, per compared field the
side that wins at first link (ownership first, then platform|external|newer) and one refresh
per side limited to the fields it wins, delivered to the other side of the pair only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeKind, Origin
from incident_sync.syncmodel.fields import Owner
from incident_sync.syncmodel.firstsync import first_sync, initial_sync, winners
from incident_sync.syncmodel.matching import Initial

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def snow(**extra: Any) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {"id": "prod-snow", "type": "servicenow", "base_url": "http://sn", **extra}
    )


def test_the_first_sync_reads_the_record_or_for_an_outbound_only_one_the_incident() -> None:
    args = {"platform": "incidentio", "integration": "prod-snow", "incident": "01J1",
            "record_id": "sys1", "actor": "ops"}  # fmt: skip
    read = first_sync("acme", takes_in=True, **args)
    assert (read.integration_id, read.external_id, read.kind) == ("prod-snow", "sys1",
                                                                  ChangeKind.REFRESH)  # fmt: skip
    assert read.origin is Origin.MANUAL and read.actor == "ops" and read.tenant == "acme"
    out = first_sync("acme", takes_in=False, **args)
    assert (out.integration_id, out.external_id) == ("incidentio", "01J1")
    assert out.platform_incident_id == "01J1"


def test_winners_keep_ownership_then_take_the_operators_choice() -> None:
    shared = snow(ownership={})
    older, newer = T0, T0 + timedelta(minutes=5)
    pick = {"platform_changed": older, "external_changed": newer}
    assert winners(shared, shared.mapping(), Initial.PLATFORM, **pick) == {
        "description": Owner.PLATFORM, "title": Owner.PLATFORM}  # fmt: skip
    assert set(winners(shared, shared.mapping(), Initial.EXTERNAL, **pick).values()) == {
        Owner.EXTERNAL
    }
    assert set(winners(shared, shared.mapping(), Initial.NEWER, **pick).values()) == {
        Owner.EXTERNAL
    }
    tie = {"platform_changed": older, "external_changed": older}
    assert set(winners(shared, shared.mapping(), Initial.NEWER, **tie).values()) == {Owner.PLATFORM}
    # The type's default rules: the platform owns ServiceNow's title and description, so
    # `external` does not take them.
    owned = snow()
    assert set(winners(owned, owned.mapping(), Initial.EXTERNAL, **pick).values()) == {
        Owner.PLATFORM
    }


def test_initial_sync_refreshes_each_side_for_what_it_won_to_the_other_side_only() -> None:
    won = {"title": Owner.PLATFORM, "description": Owner.EXTERNAL, "priority": Owner.PLATFORM}
    events = initial_sync("acme", platform="incidentio", integration=snow(), won=won,
                          incident="01J1", record_id="sys1", actor="ops")  # fmt: skip
    seen = {(e.integration_id, e.external_id, e.only_fields, e.deliver_to) for e in events}
    assert seen == {
        ("incidentio", "01J1", ("title", "priority"), ("prod-snow",)),
        ("prod-snow", "sys1", ("description",), ("incidentio",)),
    }
    assert all(e.kind is ChangeKind.REFRESH and e.platform_incident_id == "01J1" for e in events)
    # Forced as a heal's push: an operator's sync of the incident would reattach it to the
    # integrations it was detached from.
    assert all(e.origin is Origin.RECONCILER and e.actor == "ops" for e in events)
    only = initial_sync("acme", platform="incidentio", integration=snow(),
                        won={"title": Owner.PLATFORM}, incident="01J1", record_id="sys1",
                        actor="ops")  # fmt: skip
    assert [e.integration_id for e in only] == ["incidentio"]
