"""Echo fingerprints and no-op detection: pure helpers the gate and delivery share.

Tools rewrite what they are sent (whitespace, line endings), so values are normalized before
they are compared or fingerprinted; an unnormalized comparison would loop.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime

from incident_sync.syncmodel.events import FieldChange


def normalize(value: str | None) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def fingerprint(field: str, value: str | None) -> str:
    """A short stable digest of one field's normalized value."""
    digest = hashlib.blake2b(f"{field}\x00{normalize(value)}".encode(), digest_size=12)
    return digest.hexdigest()


def real_changes(
    changes: Mapping[str, FieldChange], last_known: Mapping[str, str | None]
) -> dict[str, FieldChange]:
    """Drop fields whose new value equals what is already known for the record.

    `old` is filled from the last known value when the source did not send one.
    """
    out: dict[str, FieldChange] = {}
    for field, change in changes.items():
        known = last_known.get(field)
        if field in last_known and normalize(known) == normalize(change.new):
            continue
        old = change.old if change.old is not None else known
        out[field] = FieldChange(old=old, new=change.new)
    return out


def is_stale(version: str | None, last_version: str | None) -> bool:
    """A value older than the last one applied to the same field of a record is stale."""
    return version is not None and last_version is not None and version < last_version


def fresh_changes(
    changes: Mapping[str, FieldChange], version: str | None, versions: Mapping[str, str]
) -> dict[str, FieldChange]:
    """Drop the fields for which a newer value was already applied.

    Versions are kept per field because some tools send only the changed fields: a delayed
    delivery of an older edit may still carry the only news about another field.
    """
    return {f: c for f, c in changes.items() if not is_stale(version, versions.get(f))}


def clobbered_fields(
    changes: Mapping[str, FieldChange],
    version: str | None,
    versions: Mapping[str, str],
    source_ts: datetime,
    written_ts: Mapping[str, datetime],
    known: Mapping[str, str | None],
    replaced: Mapping[str, str | None],
    person: Mapping[str, str | None] | None = None,
    rows: Mapping[str, Sequence[tuple[str, str | None]]] | None = None,
    row_kept: int = 8,
) -> set[str]:
    """Stale fields whose value is nevertheless newer than the one we wrote over it.

    A person edited the record, then our write of an *older* change from another side landed
    on top (the tool's versions say our write came later; the source clocks say their edit
    is newer). By last-write-wins their edit is the winner: it must not be dropped as stale,
    and it has to be put back on this record, where the loser landed.

    `written_ts` holds, per field, the source time of the value our last write put there
    (none where the last value seen was a person's); `known` the record's values as we know
    them (ours, there). A tool that reports the changed fields with their old values (a delta
    webhook) dates each field's change exactly. A full snapshot (a platform's) dates only the
    record: a field it shows with another value than the one it held at the snapshot's
    version was changed in between, and is taken as changed at the snapshot's time, the latest
    it can have been. That value (`_unedited`) is read from `rows`, our writes in a row there
    (`[(version, value)]`, oldest first, the last `row_kept` of them), and `person`, what a
    person set before the first; without versions, `replaced` (what our last write replaced)
    and `person` are the guesses.
    """
    return {
        f
        for f, c in changes.items()
        if is_stale(version, versions.get(f))
        and (ts := written_ts.get(f)) is not None
        and source_ts > ts
        and (
            normalize(c.new) != normalize(c.old)  # a delta: a real change, not whitespace
            if c.old is not None
            else normalize(c.new)
            not in _unedited(
                version,
                (rows or {}).get(f, ()),
                row_kept,
                known.get(f),
                replaced.get(f),
                (person or {}).get(f, replaced.get(f)),
            )
        )
    }


def _unedited(
    version: str | None,
    row: Sequence[tuple[str, str | None]],
    row_kept: int,
    known: str | None,
    replaced: str | None,
    person: str | None,
) -> set[str]:
    """The values a snapshot at `version` may show in a field nobody but us changed since
    the value a person set there: the value of our last write at or before `version`, or,
    taken before the first, the person's. Our value now (`known`) is no news either way."""
    if version is None or not row:
        return {normalize(known), normalize(replaced), normalize(person)}
    at_or_before = [value for v, value in row if v <= version]
    if at_or_before:
        return {normalize(known), normalize(at_or_before[-1])}
    if len(row) < row_kept:  # the whole row is known: before its first write
        return {normalize(known), normalize(person)}
    return {normalize(known), normalize(person), *(normalize(value) for _, value in row)}
