"""What the incident's timeline records of one gate decision (`syncstate.timeline`).

One entry per observation: `received` when the gate passes it, else `dropped` with the
guard's reason as its rule (`duplicate`, `echo_version`, `stale`, `echo_actor`,
`echo_or_noop`, `echo_comment`, `duplicate_comment`, `record_not_found`, ...) or `skipped`
for `direction`; plus `linked` when the gate adopted the incident a record names. The
incident is the platform's own record, the record's link, or, for an event decided before
the gate read its link, the incident the record names; an event of a record that names none
(never linked, an unknown side) is recorded nowhere. Ids, the origin and field names only:
never the values. The reference of a record whose change passed, or whose link was adopted,
is kept beside the timeline (`Timeline.q_reference`).
"""

from __future__ import annotations

from dataclasses import replace

from incident_sync.outbound.stages.gate.screening import GateResult, Screening
from incident_sync.runtime import tracing
from incident_sync.syncstate.timeline import Entry, Kind

SKIPPED = frozenset({"direction"})
NOT_RECORDED = frozenset({"unknown_integration", "unlinked", "ignored"})


def incident_of(s: Screening, result: GateResult) -> str | None:
    if result.linked is not None:
        return result.linked.platform_incident_id
    if s.side is not None and s.is_platform:
        return s.event.external_id
    if s.pid is not None:
        return s.pid
    if s.read is not None and s.read.incident is not None:
        return s.read.incident
    return s.event.platform_incident_id


def recorded(s: Screening, result: GateResult) -> GateResult:
    """The result with its timeline entries (none where no incident is known)."""
    if result.reason in NOT_RECORDED:
        return result
    incident = incident_of(s, result)
    if incident is None:
        return result
    event = s.event
    if result.reason == "passed":
        kind, rule = Kind.RECEIVED, None
    else:
        kind = Kind.SKIPPED if result.reason in SKIPPED else Kind.DROPPED
        rule = result.reason
    fields = tuple(event.changes) if result.linked is None else tuple(result.linked.event.changes)
    trace = tracing.trace_id()
    detail = {
        "delivery": event.delivery_id,
        "origin": event.origin.value,
        "event": event.kind.value,
        "record": None if s.side is not None and s.is_platform else event.external_id,
        "reference": event.reference,
        "version": event.version,
    }
    entries = [Entry(kind, (event.integration_id,), fields, rule, trace, detail)]
    if s.declared:
        entries.append(
            Entry(
                Kind.DECLARED,
                (event.integration_id,),
                rule="declare",
                trace_id=trace,
                detail={"record": event.external_id, "reference": event.reference},
            )
        )
        entries.append(
            Entry(
                Kind.LINKED,
                (event.integration_id,),
                rule="declared",
                trace_id=trace,
                detail={"record": event.external_id},
            )
        )
    elif s.read is not None and s.read.incident is None and s.pid is not None and not s.is_platform:
        # The link adopted from the record's own claim (`Screening.platform_incident`).
        entries.append(
            Entry(
                Kind.LINKED,
                (event.integration_id,),
                rule="adopted",
                trace_id=trace,
                detail={"record": event.external_id},
            )
        )
    # A record's reference never changes: kept when the gate passes one of its changes (its
    # echoes, the most frequent events, carry it again for nothing).
    reference = event.reference if result.reason == "passed" or len(entries) > 1 else None
    return replace(result, incident=incident, entries=tuple(entries), reference=reference)
