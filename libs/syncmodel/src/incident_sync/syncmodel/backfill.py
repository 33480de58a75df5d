"""Backfill (`im integration backfill`): which existing platform incidents get a record in an
integration, and the change that asks the pipeline for it. Pure: the reconciler lists the
incidents and publishes the events.

An incident is backfilled when it has no record there (no link of the integration, and the
integration not detached from it: a record deleted there stays deleted), matches the
integration's trigger (what would have made the record had the incident been declared after
installation) and the job's status filter (`open`, the default, or `all`). The change is a
refresh of the incident delivered to that integration only and forced through the gate as a
recreate is (origin `reconciler`), so the arbiter plans the create and the delivery makes it
as any create: its correlation search first, the integration's rate limit and concurrency,
the DLQ when the tool refuses. Its delivery id is the job's and the incident's, so a job
resumed after a crash republishes nothing the gate has not deduplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, Origin
from incident_sync.syncmodel.fields import Status


class StatusFilter(StrEnum):
    OPEN = "open"
    ALL = "all"


@dataclass(frozen=True)
class Incident:
    """A platform incident as listed: its id, reference, canonical fields, when made."""

    id: str
    fields: Mapping[str, str | None]
    reference: str | None = None
    created: datetime | None = None


@dataclass
class Selection:
    """The incidents to backfill, in a stable order (oldest first, then by id: a job resumed
    from its checkpoint walks the same list), and those left out, by why."""

    chosen: list[Incident] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    not_matching: list[str] = field(default_factory=list)  # the integration's trigger
    closed: list[str] = field(default_factory=list)  # with the `open` filter


def select(
    incidents: Iterable[Incident],
    integration: IntegrationConfig,
    status: StatusFilter,
    *,
    linked: set[str],
    detached: set[str],
) -> Selection:
    """Sort the listed incidents: `linked` are those with a record of the integration,
    `detached` those the integration is detached from."""
    out = Selection()
    for incident in sorted(incidents, key=_order):
        if incident.id in linked:
            out.linked.append(incident.id)
        elif incident.id in detached:
            out.detached.append(incident.id)
        elif integration.trigger is not None and not integration.trigger.matches(incident.fields):
            out.not_matching.append(incident.id)
        elif status is StatusFilter.OPEN and incident.fields.get("status") == Status.CLOSED:
            out.closed.append(incident.id)
        else:
            out.chosen.append(incident)
    return out


def _order(incident: Incident) -> tuple[float, str]:
    return (incident.created.timestamp() if incident.created else 0.0, incident.id)


def backfill_event(
    tenant: str, platform: str, integration: str, incident: str, *, job_id: str, now: datetime
) -> ChangeEvent:
    """The refresh of `incident` delivered to `integration` only: the arbiter plans its create
    there (a record the tool has already, the delivery's correlation search finds)."""
    return ChangeEvent(
        delivery_id=f"backfill:{job_id}:{integration}:{incident}",
        tenant=tenant,
        integration_id=platform,
        external_id=incident,
        kind=ChangeKind.REFRESH,
        platform_incident_id=incident,
        source_ts=now,
        origin=Origin.RECONCILER,
        deliver_to=(integration,),
    )
