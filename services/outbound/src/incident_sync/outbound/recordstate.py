"""The record state hash: what the pipeline last knew of one record (`state:{side}:{record}`).

One hash per record: each canonical field's value as the record shows it, and per field the
bookkeeping of where that value came from (names start with NUL, which no field has):
- `\\0v:<field>`: the tool's version of the record the value was seen at (or our write made);
- `\\0t:<field>`: the source time of the change our write put there ("" = not ours);
- `\\0p:<field>`: the value our write replaced;
- `\\0o:<field>`: what a person last set there: the value `\\0p:` holds, or, after several
  writes of ours in a row, the one the first of them replaced;
- `\\0h:<field>`: those writes of ours in a row, oldest first: `[[version, value], ...]`
  (the last `ROW_KEPT`), so a snapshot at any version is known to show which of them, or the
  person's value from before the first (`syncmodel.echo.clobbered_fields`);
- `\\0s:<field>`: the value we sent, where the tool stored another form of it (cut, normalised,
  or its own default in place of our empty value): the field's value *is* our value, as the
  tool keeps it. Absent where the tool stored what we sent, or the value is someone else's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from incident_sync.syncmodel.echo import normalize

VERSION = "\x00v:"
PREV = "\x00p:"
PERSON = "\x00o:"
ROW = "\x00h:"
ROW_KEPT = 8  # writes of ours in a row remembered per field
TS = "\x00t:"
SENT = "\x00s:"


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_hash(raw: Mapping[Any, Any] | Sequence[Any]) -> dict[str, str]:
    """A hash as HGETALL answers it (a mapping, or the flat list a Lua script returns)."""
    if isinstance(raw, Mapping):
        return {_s(k): _s(v) for k, v in raw.items()}
    return {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}


@dataclass(frozen=True)
class KnownState:
    """What we last knew of one record: values, the tool's version of each, and for values
    our own write put there, the source time of the change we wrote."""

    fields: dict[str, str | None]
    versions: dict[str, str]
    written_ts: dict[str, datetime]
    replaced: dict[str, str | None] = field(default_factory=dict)  # what our write replaced
    person: dict[str, str | None] = field(default_factory=dict)  # what a person last set
    rows: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # ours in a row
    sent: dict[str, str | None] = field(default_factory=dict)  # ours, where stored otherwise


def parse_known(raw: Mapping[Any, Any] | Sequence[Any]) -> KnownState:
    """A record's state hash (HGETALL) as values, versions and our writes' marks."""
    known = KnownState({}, {}, {})
    for name, value in parse_hash(raw).items():
        if name.startswith(VERSION):
            known.versions[name[len(VERSION) :]] = value
        elif name.startswith(PREV):
            known.replaced[name[len(PREV) :]] = value
        elif name.startswith(PERSON):
            known.person[name[len(PERSON) :]] = value
        elif name.startswith(ROW):
            known.rows[name[len(ROW) :]] = _row(value)
        elif name.startswith(TS):
            if value:
                known.written_ts[name[len(TS) :]] = datetime.fromisoformat(value)
        elif name.startswith(SENT):
            known.sent[name[len(SENT) :]] = value
        else:
            known.fields[name] = value
    return known


def last_set_by_a_person(known: KnownState) -> dict[str, str | None]:
    """Per field, the value a person last set there as far as we know: the known value, or,
    where that is our write's (`\\0t:` set), the one our first write since replaced (`\\0o:`,
    else `\\0p:`). After several of our writes in a row, a snapshot taken before the first
    still shows the person's value, which is old, not an edit."""
    out: dict[str, str | None] = {}
    for f, value in known.fields.items():
        if f not in known.written_ts:
            out[f] = value
        else:
            out[f] = known.person.get(f, known.replaced.get(f, value))
    return out


def _row(raw: str) -> list[tuple[str, str | None]]:
    try:
        entries = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        return []
    return [(str(e[0]), e[1]) for e in entries if isinstance(e, list) and len(e) == 2]


def rows_after(
    known: KnownState, stored: Mapping[str, str | None], version: str | None
) -> dict[str, str]:
    """The `\\0h:` marks after our write of `stored` made `version`: the field's row of our
    writes goes on where the known value is ours, else starts with this write. Empty (no row)
    where the tool gives no versions."""
    out: dict[str, str] = {}
    for f, value in stored.items():
        row = list(known.rows.get(f, [])) if f in known.written_ts and version else []
        if version is not None:
            row.append((version, value))
        out[f] = orjson.dumps([list(e) for e in row[-ROW_KEPT:]]).decode() if row else ""
    return out


def shows(known: KnownState, field: str, value: str | None) -> bool:
    """Whether the record, as known, shows `value` in `field`: as it is, or as the tool's
    stored form of it (our write of `value` stored otherwise)."""
    if field not in known.fields:
        return False
    if normalize(known.fields[field]) == normalize(value):
        return True
    return field in known.sent and normalize(known.sent[field]) == normalize(value)


def shows_ours(known: KnownState, field: str, value: str | None) -> bool:
    """Whether `value` is the record's known value of `field` and that is the tool's stored
    form of a value we wrote (another form of it, or a default for our empty value)."""
    return field in known.sent and normalize(value) == normalize(known.fields.get(field))


def sent_marks(
    sent: Mapping[str, str | None], stored: Mapping[str, str | None]
) -> dict[str, str | None]:
    """For a write: the fields whose stored value is another form of the one sent -> the
    value sent. A field stored but not sent (a tool's default filled in) was sent empty."""
    return {
        f: sent.get(f) for f, value in stored.items() if normalize(value) != normalize(sent.get(f))
    }


@dataclass(frozen=True)
class StateWrite:
    """One HSET (and the HDEL of marks that no longer hold) for a record's state hash."""

    mapping: dict[str, str]
    cleared: list[str]


def state_write(
    fields: Mapping[str, str | None],
    version: str | None,
    written_ts: datetime | None,
    ours: Collection[str],
    replaced: Mapping[str, str | None] | None,
    sent: Mapping[str, str | None] | None = None,
    changed: Collection[str] = (),
    person: Mapping[str, str | None] | None = None,
    rows: Mapping[str, str] | None = None,
) -> StateWrite:
    """The state hash commands that remember `fields`.

    With `written_ts`, `fields` are what our write stored (`sent`: where that is another form
    of what we sent); otherwise they were observed, which clears the `\\0t:` mark of fields
    not in `ours` (the echo of our write) and the `\\0s:` mark of the `changed` ones (whose
    value differs from the one known: no longer ours).
    """
    mapping: dict[str, str] = {k: v if v is not None else "" for k, v in fields.items()}
    cleared: list[str] = []
    if version is not None:
        mapping.update({VERSION + k: version for k in fields})
    if written_ts is not None:
        mapping.update({TS + k: written_ts.isoformat() for k in fields})
        if replaced is not None:
            mapping.update({PREV + k: replaced.get(k) or "" for k in fields})
        if person is not None:
            mapping.update({PERSON + k: person.get(k) or "" for k in fields})
        mapping.update({ROW + k: v for k, v in (rows or {}).items() if k in fields})
        marks = sent or {}
        mapping.update({SENT + k: v or "" for k, v in marks.items() if k in fields})
        cleared += [SENT + k for k in fields if k not in marks]
    else:
        mapping.update({TS + k: "" for k in fields if k not in ours})
        cleared += [SENT + k for k in changed if k in fields and k not in ours]
    return StateWrite(mapping, cleared)
