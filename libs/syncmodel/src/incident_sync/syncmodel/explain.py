"""Why one field holds the value it holds on each side of an incident: the incident's timeline
(`syncstate.timeline`) read for that field, one plain sentence per side.

Pure. `explain` takes the timeline's entries (as `Step`s, oldest first; those not touching
the field are passed over), the incident's sides (the platform's first) and the field, and
answers per side (`Reason`) with a sentence, the ids of the entries it rests on and the newest
one's time. A side is named as the timeline names it (its integration's name).

How a side's sentence is made, walking the field's entries in order:
- what last set the value there is its basis: the side's own edit as the gate passed it
  (`received`), our write (`written`/`created`, with the source's edit, its delivery, the
  tool's record and HTTP status), or a correction by the reconciler (`healed`). A new basis
  forgets what was said before it, except the cause of the write it is (a conflict's
  resolution, a heal, that came just before);
- what did not change it is said after: an echo of our write, a duplicate or a stale change
  dropped; an edit not taken in (ownership, direction, mapping, a parked field) -- on the
  editing side and, as "X's later edit ... was not taken in", on the others; a change not
  written there (the side owns the field, its direction, its mapping, its trigger, its record
  deleted, nothing to write); a conflict parked or resolved (by whom, choosing what); a write
  deferred, held, retried, dead-lettered, quarantined or still planned;
- an integration's direction now, where it stops the field whatever the timeline kept
  (the ingress ignores an outbound-only integration's webhooks before any decision is
  recorded): "its edits are not taken in because the integration's direction is
  platform→tool only" (and so on the platform's side), "nothing is written here because
  ... tool→platform only" -- unless an entry said so already;
- a side with nothing said: "no decision about this field recorded (within the timeline's
  retention)".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

Detail = str | int | float | bool | None

NO_DECISION: Final = "No decision about this field recorded (within the timeline's retention)."

# Guards' rules of a change dropped as the echo of our own write.
ECHO_RULES: Final = frozenset({"echo_actor", "echo_version", "echo_comment", "echo_or_noop"})
# Rules of a skip only a change's source gets, and only a target gets.
SOURCE_RULES: Final = frozenset({"parked"})
TARGET_RULES: Final = frozenset({"trigger", "detached", "nothing_to_write", "paused"})
# The delivery id of the change that applies a conflict's resolution
# (`syncstate.conflicts.resolution_event`).
RESOLUTION: Final = "resolve:"
# Delivery outcomes: each settles a planned write.
OUTCOMES: Final = frozenset(
    {"written", "created", "deferred", "held", "retried", "dead_lettered", "quarantined"}
)


@dataclass(frozen=True)
class Step:
    """One timeline entry as the explainer reads it (`syncstate.timeline.Entry`'s shape):
    its stream id and time, its kind's name, the side(s), the fields, the rule, the trace id
    and the details (ids, HTTP status, the change's `source`, ...)."""

    id: str
    at: datetime
    kind: str
    sides: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    rule: str | None = None
    trace_id: str | None = None
    detail: Mapping[str, Detail] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    """Why the field holds its value on `side`: one sentence, the ids of the entries it rests
    on (oldest first; empty when none) and the newest one's time."""

    side: str
    sentence: str
    entries: tuple[str, ...] = ()
    at: datetime | None = None


@dataclass
class _Note:
    text: str
    steps: list[Step]
    key: str | None = None  # a conflict's id, so its resolution replaces its parking
    cause: bool = False  # a resolution or heal: kept by the write it leads to
    kept: bool = False  # already kept by one basis (the next one forgets it)
    pending: bool = False  # a parked conflict: said whatever is written until it is resolved


@dataclass
class _Side:
    name: str
    basis: tuple[str, Step] | None = None
    basis_steps: list[Step] = field(default_factory=list)
    notes: list[_Note] = field(default_factory=list)
    planned: Step | None = None

    def note(
        self,
        text: str,
        step: Step | None,
        key: str | None = None,
        cause: bool = False,
        pending: bool = False,
    ) -> None:
        """Say `text` (resting on `step`; None: on the configuration, no entry)."""
        steps = [step] if step is not None else []
        if key is not None:
            for n in self.notes:
                if n.key == key:
                    n.text, n.cause, n.pending = text, cause, pending
                    n.steps += steps
                    return
        self.notes.append(_Note(text, steps, key, cause, pending=pending))

    def set_basis(self, text: str, step: Step) -> None:
        # A cause since the last basis (a resolution, a heal) is why this value came; a
        # parked conflict stays said (a write while parked is a put-back of the side's own).
        kept = [n for n in self.notes if (n.cause and not n.kept) or n.pending]
        for n in kept:
            n.kept = n.kept or n.cause
        self.basis, self.basis_steps, self.notes = (text, step), [step], kept
        self.planned = None


def when(at: datetime, today: date | None = None) -> str:
    """A time as sentences say it: `14:02:05 UTC`, with the date unless it is `today`."""
    clock = at.strftime("%H:%M:%S UTC")
    return clock if today is not None and at.date() == today else f"{at:%Y-%m-%d} {clock}"


def _source_of(step: Step, earlier: Sequence[Step]) -> str | None:
    """The side whose change the step is about: its `source` detail; an observation's own
    side (the gate's entries carry its delivery); else the side that had an observation
    passed in the same trace (entries written before sources were recorded)."""
    source = step.detail.get("source")
    if isinstance(source, str):
        return source
    side = step.sides[0] if step.sides else None
    if "delivery" in step.detail or step.rule in SOURCE_RULES:
        return side
    if step.rule in TARGET_RULES or step.trace_id is None:
        return None
    for e in reversed(earlier):
        if e.kind == "received" and e.trace_id == step.trace_id:
            return e.sides[0] if e.sides else None
    return None


def _not_taken(rule: str | None) -> str:
    return {
        "ownership": "the platform owns the field",
        "direction": "the integration's direction is platform→tool only",
        "mapping": "the integration's mapping does not take the field in",
        "parked": "the field is parked in a conflict awaiting review",
        "superseded": "a newer change superseded it",
    }.get(rule or "", f"of rule {rule or 'unknown'}")


def _not_written(rule: str | None, side: str) -> str:
    return {
        "ownership": f"{side} owns the field",
        "direction": "the integration's direction is tool→platform only",
        "mapping": "the integration's mapping does not carry the field out",
        "trigger": "the incident does not match the integration's trigger",
        "detached": "its record was deleted there and is not made again",
        "nothing_to_write": "it already held the value",
        "superseded": "a newer change superseded it",
        "paused": "the integration is paused",
    }.get(rule or "", f"of rule {rule or 'unknown'}")


def _dropped(step: Step, t: str) -> str:
    rule = step.rule or "unknown"
    if rule == "echo_or_noop":
        return f"a change at {t} that only repeated what we hold (an echo of our write) was dropped"
    if rule in ECHO_RULES:
        return f"an echo of our own write at {t} was dropped ({rule})"
    if rule == "duplicate":
        return f"a duplicate delivery at {t} was dropped"
    if rule == "stale":
        return f"an older change arriving at {t} (out of order) was dropped"
    return f"a change at {t} was dropped ({rule})"


def _origin(step: Step, earlier: Sequence[Step], name: str, source: str) -> Step | None:
    """The observation a write carried: the source's passed change of the field in the same
    trace, else its latest one before the write."""
    seen = [e for e in earlier if e.kind == "received" and e.sides[:1] == (source,)]
    seen = [e for e in seen if name in e.fields]
    same = [e for e in seen if step.trace_id is not None and e.trace_id == step.trace_id]
    found = same or seen
    return found[-1] if found else None


def _status(step: Step) -> list[str]:
    status = step.detail.get("status")
    return [f"HTTP {status}"] if status is not None else []


def _written(step: Step, earlier: Sequence[Step], name: str, t: str) -> str:
    verb = "created" if step.kind == "created" else "written"
    source = step.detail.get("source")
    parts: list[str] = []
    text = f"{verb} by us at {t}"
    if isinstance(source, str):
        origin = _origin(step, earlier, name, source)
        delivery = origin.detail.get("delivery") if origin is not None else None
        chosen = isinstance(delivery, str) and delivery.startswith(RESOLUTION)
        if chosen or (origin is not None and origin.detail.get("origin") == "reconciler"):
            text += f" with {source}'s value"
        else:
            text += f" from {source}'s edit"
            if delivery is not None:
                parts.append(f"delivery {delivery}")
    record = step.detail.get("record")
    if record is not None:
        parts.append(f"record {record}")
    parts += _status(step)
    return text + (f" ({', '.join(parts)})" if parts else "")


def _received(step: Step, t: str) -> str | None:
    """The basis an observation passed is, or None: a conflict's resolution and the
    reconciler's correction are said by their own entries."""
    side = step.sides[0] if step.sides else "the side"
    delivery, origin = step.detail.get("delivery"), step.detail.get("origin")
    if origin == "reconciler" or (isinstance(delivery, str) and delivery.startswith(RESOLUTION)):
        return None
    if origin == "manual":
        text = f"read from {side} at {t} by an operator's sync"
    elif step.detail.get("event") == "created":
        text = f"set when the incident was made on {side} at {t}"
    else:
        text = f"edited on {side} at {t}"
    return text + (f" (delivery {delivery})" if delivery else "")


def _resolved(step: Step, when_detected: str | None, t: str) -> str:
    resolution = step.rule or "unknown"
    winner, resolver = step.detail.get("winner"), step.detail.get("resolver")
    conflict = step.detail.get("conflict")
    head = f"a conflict at {when_detected or t}"
    head += f" ({conflict})" if conflict else ""
    if when_detected is not None:
        head += " was parked, then"
    if resolver in (None, "auto"):
        stands = f": {winner}'s value stands" if winner else ""
        return f"{head} settled at {t} by {resolution}{stands}"
    if resolution == "ignore":
        choice = "to keep each side's value"
    elif winner:
        choice = f"{winner}'s value ({resolution})"
    else:
        choice = resolution
    return f"{head} resolved at {t} by {resolver} choosing {choice}"


def _heal(step: Step, t: str, healed: str) -> str:
    """The reconciler's correction of the side `healed` (as the sentence names it)."""
    heal = step.detail.get("heal")
    run = step.detail.get("run")
    found = f"healed by the reconciler at {t}"
    what = {
        "take_external": f"the platform takes {healed}'s value",
        "take_platform": f"the platform's change is taken in by {healed}",
        "push_platform": f"the platform's value is written onto {healed}",
        "push_external": f"{healed}'s value is written onto the platform",
        "conflict": "both sides had changed: the conflict rules decide",
        "recreate": f"the record on {healed} was gone and is made again",
        "unlink": f"the record on {healed} was gone and is unlinked",
    }.get(str(heal))
    detail = [f"{step.rule}" if step.rule else None, f"run {run}" if run else None]
    said = ", ".join(d for d in detail if d)
    return found + (f" ({said})" if said else "") + (f": {what}" if what else "")


def explain(
    name: str,
    steps: Sequence[Step],
    sides: Sequence[str],
    *,
    directions: Mapping[str, str] | None = None,
    today: date | None = None,
) -> list[Reason]:
    """One `Reason` per side of the incident for the field `name` (see the module): the
    `sides` given (the platform's first), then any other side the field's entries name, in
    the order they first do. `steps`: the incident's timeline, oldest first; `directions`:
    the integrations' directions now (`outbound`, `inbound`, `bidirectional`), said where
    one way stops the field whatever the timeline kept (an outbound-only integration's edits
    are ignored before any decision is recorded); `today`: the day whose times are said
    without their date."""
    mine = [s for s in steps if name in s.fields]
    order = list(dict.fromkeys([*sides, *(side for s in mine for side in s.sides)]))
    state = {side: _Side(side) for side in order}
    told: set[tuple[str, str]] = set()  # (side noted, side whose direction it names)
    parked_at: dict[str, str] = {}  # conflict id -> when it was parked (said as a time)

    def others(skip: str) -> list[_Side]:
        return [st for side, st in state.items() if side != skip]

    for n, step in enumerate(mine):
        t, earlier = when(step.at, today), mine[:n]
        side = step.sides[0] if step.sides else None
        here = state.get(side) if side is not None else None
        kind = step.kind
        if kind == "received" and here is not None:
            if (said := _received(step, t)) is not None:
                here.set_basis(said, step)
        elif kind == "dropped" and here is not None:
            here.note(_dropped(step, t), step)
        elif kind == "skipped" and here is not None and side is not None:
            if step.rule == "nothing_to_write" or step.rule == "paused":
                here.planned = None
            if step.rule == "direction":
                told |= {(o, side) for o in state}
            if _source_of(step, earlier) == side:
                clause = _not_taken(step.rule)
                if here.basis is not None and here.basis[1].kind == "received":
                    here.note(f"that edit was not taken in because {clause}", step)
                else:
                    here.note(f"its edit at {t} was not taken in because {clause}", step)
                for other in others(side):
                    later = " later" if other.basis is not None else ""
                    other.note(
                        f"{side}'s{later} edit at {t} was not taken in because {clause}", step
                    )
            else:
                source = _source_of(step, earlier)
                whose = f"{source}'s change" if source else "a change"
                if step.rule == "nothing_to_write":
                    here.note(f"at {t} nothing was written because it already held the value", step)
                else:
                    clause = _not_written(step.rule, side)
                    here.note(f"{whose} at {t} was not written here because {clause}", step)
        elif kind == "conflict_detected":
            continue  # said with its parking or its resolution
        elif kind == "conflict_parked":
            conflict = str(step.detail.get("conflict") or step.id)
            parked_at[conflict] = t
            for side_name in step.sides:
                if (st := state.get(side_name)) is not None:
                    text = f"a conflict at {t} ({conflict}) is parked for review"
                    st.note(text, step, key=conflict, pending=True)
        elif kind == "conflict_resolved":
            conflict = str(step.detail.get("conflict") or step.id)
            text = _resolved(step, parked_at.get(conflict), t)
            for side_name in step.sides:
                if (st := state.get(side_name)) is not None:
                    st.note(text, step, key=conflict, cause=True)
        elif kind == "planned":
            for side_name in step.sides:
                if (st := state.get(side_name)) is not None:
                    st.planned = step
        elif kind in ("written", "created") and here is not None:
            here.set_basis(_written(step, earlier, name, t), step)
        elif kind == "healed" and here is not None and side is not None:
            here.note(_heal(step, t, "this side"), step, cause=True)
            for other in others(side):
                other.note(_heal(step, t, side), step, cause=True)
        elif kind in OUTCOMES and here is not None:
            here.planned = None
            status = ", ".join(_status(step))
            said = f" ({status})" if status else ""
            rule = f" ({step.rule})" if step.rule else ""
            text = {
                "deferred": f"a write at {t} was deferred{rule}",
                "held": f"a write at {t} is held: the integration is paused",
                "retried": f"a write at {t} failed{said} and is retried",
                "dead_lettered": f"a write at {t} was refused{said} and dead-lettered",
                "quarantined": f"a write at {t} could not be made{rule} and is quarantined",
            }[kind]
            here.note(text, step)
    platform = sides[0] if sides else None
    for side, direction in sorted((directions or {}).items()):
        if side not in state or side == platform:
            continue
        if direction == "outbound":
            clause = _not_taken("direction")
            if (side, side) not in told:
                state[side].note(f"its edits are not taken in because {clause}", None)
            if platform is not None and (platform, side) not in told:
                state[platform].note(f"{side}'s edits are not taken in because {clause}", None)
        elif direction == "inbound" and (side, side) not in told:
            clause = _not_written("direction", side)
            state[side].note(f"nothing is written here because {clause}", None)
    place = {s.id: n for n, s in enumerate(mine)}
    return [_sentence(state[side], place, order, today) for side in order]


def _sentence(
    side: _Side, place: Mapping[str, int], names: Sequence[str], today: date | None
) -> Reason:
    parts: list[str] = [side.basis[0]] if side.basis is not None else []
    used = list(side.basis_steps)
    for n in side.notes:
        parts.append(n.text)
        used += n.steps
    if side.planned is not None:
        parts.append(f"a write planned at {when(side.planned.at, today)} has no outcome yet")
        used.append(side.planned)
    if not parts:
        return Reason(side.name, NO_DECISION)
    text = "; ".join(parts)
    by_id = {s.id: s for s in used}
    ids = tuple(sorted(by_id, key=lambda i: place[i]))
    # A sentence starts with a capital, unless with a side's name (an id, as it is written).
    if not any(text.startswith(f"{name}'s") for name in names):
        text = text[0].upper() + text[1:]
    return Reason(side.name, text + ".", ids, by_id[ids[-1]].at if ids else None)
