"""What the incident's timeline records of one delivery attempt (`syncstate.timeline`): the
outcome (`written`, `created`, `skipped`, `deferred`, `held`, `retried`, `dead_lettered`) on
the target side, with the fields, the tool's id of the record, the HTTP status of the tool's
last answer, the attempt's duration, and for a failure the start of the tool's answer (the
DLQ keeps it whole); `linked` when the attempt linked the record. Written with the
delivery's counters and dedupe mark (`agent.done`), in that round trip."""

from __future__ import annotations

from incident_sync.runtime import tracing
from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncstate.timeline import Detail, Entry, Kind

KINDS = {
    "written": Kind.WRITTEN,
    "created": Kind.CREATED,
    "skipped": Kind.SKIPPED,
    "deferred": Kind.DEFERRED,
    "held": Kind.HELD,
    "retried": Kind.RETRIED,
    "failed": Kind.DEAD_LETTERED,
}
RULES = {"skipped": "nothing_to_write", "held": "paused"}


def entries(
    cmd: DeliveryCommand,
    outcome: str,
    *,
    external_id: str | None,
    error: str | None = None,
    status: int | None = None,
    duration_s: float | None = None,
    linked: bool = False,
) -> list[Entry]:
    kind = KINDS.get(outcome)
    if kind is None:
        return []
    side, trace = (cmd.target_integration_id,), tracing.trace_id()
    fields = tuple(cmd.set_fields) + (("comment",) if cmd.comment is not None else ())
    rule = RULES.get(outcome, error if outcome == "deferred" else None)
    detail: dict[str, Detail] = {
        "record": external_id,
        "status": status,
        "duration_ms": round(duration_s * 1000, 1) if duration_s is not None else None,
        "attempt": cmd.attempt,
        "command": cmd.command_id,
        "source": cmd.source_integration_id,
    }
    if outcome in ("retried", "failed"):
        detail["error"] = error
    out = [Entry(kind, side, fields, rule, trace, detail)]
    if linked and external_id is not None:
        out.append(Entry(Kind.LINKED, side, (), outcome, trace, {"record": external_id}))
    return out
