"""Echo fingerprints and no-op detection: pure helpers the gate and delivery share.

Tools rewrite what they are sent (whitespace, line endings), so values are normalized before
they are compared or fingerprinted; an unnormalized comparison would loop.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
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
    first: Mapping[str, str] | None = None,
) -> set[str]:
    """Stale fields whose value is nevertheless newer than the one we wrote over it.

    A person edited the record, then our write of an *older* change from another side landed
    on top (the tool's versions say our write came later; the source clocks say their edit
    is newer). By last-write-wins their edit is the winner: it must not be dropped as stale,
    and it has to be put back on this record, where the loser landed.

    `written_ts` holds, per field, the source time of the value our last write put there
    (none where the last value seen was a person's); `known` the record's values as we know
    them (ours, there); `replaced` the values our write replaced, `person` what a person last
    set before our writes in a row (a snapshot taken before the first shows it; `first`: the
    version the first made: a snapshot at it or later showing the person's value shows it set
    again, an edit). A tool that
    reports the changed fields with their old values (a delta webhook) dates each field's
    change exactly. A full snapshot (a platform's) dates only the record: a field it shows
    with neither our value, nor the one we replaced, nor the person's before our writes was
    changed in between, and is taken as changed at the snapshot's time, the latest it can
    have been.
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
            not in {
                normalize(known.get(f)),
                normalize(replaced.get(f)),
                normalize((person or {}).get(f, replaced.get(f)))
                if _before_our_first(version, (first or {}).get(f))
                else normalize(replaced.get(f)),
            }
        )
    }


def _before_our_first(version: str | None, first: str | None) -> bool:
    # Without both versions the snapshot may be older than our first write: the safe guess.
    return version is None or first is None or version < first
