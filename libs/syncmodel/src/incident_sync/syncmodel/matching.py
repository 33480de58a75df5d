"""Linking what already exists: which platform incident goes with which tool record, and who
wins each field when a pair is first linked. Pure rules, no I/O.

`plan_links` matches the incidents and records not linked yet by one rule (`By`): the
correlation field (the record holds the incident's id), a reference written in a field (the
record names the incident's reference or id, or the incident the record's), or a title that
reads the same once normalised, within a time window of their creation. A match counts only
when it is the only one both ways; anything else is ambiguous and is shown, never guessed.
Linked items are left out, so planning again after linking the pairs finds none: a rerun
changes nothing.

`first_winner` decides, per field of a pair linked for the first time, whose value is kept:
field ownership first, then the operator's choice (`Initial`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from incident_sync.syncmodel.fields import Owner

DEFAULT_WINDOW: Final = timedelta(hours=2)


class By(StrEnum):
    CORRELATION = "correlation"
    REFERENCE = "reference"
    TITLE = "title"


@dataclass(frozen=True)
class Candidate:
    """One existing incident or record as the matcher sees it. `reference`: as people know
    it (INC-123, OPS-12); `correlation`: a record's correlation field (the platform id it
    holds); `mentions`: references or ids of the other side written in its fields."""

    id: str
    title: str
    created: datetime
    reference: str | None = None
    correlation: str | None = None
    mentions: frozenset[str] = frozenset()


@dataclass(frozen=True, order=True)
class Pair:
    incident: str
    record: str
    by: By


@dataclass(frozen=True, order=True)
class Ambiguous:
    """`side`'s item `id` has several candidates on the other side (or shares its only one)."""

    side: str  # "incident" or "record"
    id: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    pairs: tuple[Pair, ...] = ()
    ambiguous: tuple[Ambiguous, ...] = ()
    unmatched_incidents: tuple[str, ...] = ()
    unmatched_records: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)


def normalised_title(title: str) -> str:
    """The title as compared: NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text)
    return re.sub(r"\s+", " ", text).strip()


# A reference or id as people write one in a field: INC0010001, OPS-12, INC-123, #42, a ULID.
_WORD: Final = re.compile(r"#?[0-9A-Za-z](?:[0-9A-Za-z_.\-]*[0-9A-Za-z])?")


def mentions(texts: Iterable[str | None]) -> frozenset[str]:
    """The words of `texts` that could name an item of the other side (what `Candidate`'s
    `mentions` holds): `plan_links` keeps those that are some item's id or reference."""
    return frozenset(w for text in texts if text for w in _WORD.findall(text))


def plan_links(
    incidents: Iterable[Candidate],
    records: Iterable[Candidate],
    by: By,
    *,
    linked_incidents: Collection[str] = (),
    linked_records: Collection[str] = (),
    window: timedelta = DEFAULT_WINDOW,
) -> Plan:
    """The pairs `by` finds among what is not linked yet, the ambiguous items and the rest,
    each sorted (the plan does not depend on the order things were listed in)."""
    free_incidents = {c.id: c for c in incidents if c.id not in linked_incidents}
    free_records = {c.id: c for c in records if c.id not in linked_records}
    candidates = _candidates(by, free_incidents.values(), free_records.values(), window)
    backwards: dict[str, set[str]] = defaultdict(set)  # record -> incidents
    for incident_id, record_ids in candidates.items():
        for record_id in record_ids:
            backwards[record_id].add(incident_id)
    pairs: list[Pair] = []
    ambiguous: list[Ambiguous] = []
    for incident_id, record_ids in candidates.items():
        if len(record_ids) == 1:
            (record_id,) = record_ids
            if backwards[record_id] == {incident_id}:
                pairs.append(Pair(incident_id, record_id, by))
                continue
        ambiguous.append(Ambiguous("incident", incident_id, tuple(sorted(record_ids))))
    paired_incidents = {p.incident for p in pairs}
    paired_records = {p.record for p in pairs}
    # A record with several candidates, or whose only one has others too.
    ambiguous += [
        Ambiguous("record", record_id, tuple(sorted(incident_ids)))
        for record_id, incident_ids in backwards.items()
        if record_id not in paired_records
    ]
    unmatched_incidents = sorted(set(free_incidents) - set(candidates))
    unmatched_records = sorted(set(free_records) - set(backwards))
    plan_pairs = tuple(sorted(pairs))
    return Plan(
        pairs=plan_pairs,
        ambiguous=tuple(sorted(ambiguous)),
        unmatched_incidents=tuple(unmatched_incidents),
        unmatched_records=tuple(unmatched_records),
        counts={
            "pairs": len(plan_pairs),
            "ambiguous_incidents": len(set(candidates) - paired_incidents),
            "ambiguous_records": len(set(backwards) - paired_records),
            "unmatched_incidents": len(unmatched_incidents),
            "unmatched_records": len(unmatched_records),
            "already_linked": len(linked_incidents),
        },
    )


def _candidates(
    by: By,
    incidents: Collection[Candidate],
    records: Collection[Candidate],
    window: timedelta,
) -> dict[str, set[str]]:
    """Incident -> the records `by` matches it with, through indexes (linear in the number of
    items, not in their product: an organisation links thousands at once)."""
    out: dict[str, set[str]] = defaultdict(set)
    if by is By.CORRELATION:
        ids = {c.id for c in incidents}
        for record in records:
            if record.correlation in ids:
                out[record.correlation].add(record.id)
        return out
    if by is By.REFERENCE:
        incident_names = _names(incidents)
        record_names = _names(records)
        for record in records:
            for mention in record.mentions:
                for incident_id in incident_names.get(mention, ()):
                    out[incident_id].add(record.id)
        for incident in incidents:
            for mention in incident.mentions:
                out[incident.id].update(record_names.get(mention, ()))
        return {k: v for k, v in out.items() if v}
    by_title: dict[str, list[Candidate]] = defaultdict(list)
    for record in records:
        if title := normalised_title(record.title):
            by_title[title].append(record)
    for incident in incidents:
        for record in by_title.get(normalised_title(incident.title), ()):
            if abs(incident.created - record.created) <= window:
                out[incident.id].add(record.id)
    return out


def _names(items: Collection[Candidate]) -> dict[str, set[str]]:
    """What each item is called (its id and its reference) -> the items called so."""
    names: dict[str, set[str]] = defaultdict(set)
    for item in items:
        names[item.id].add(item.id)
        if item.reference:
            names[item.reference].add(item.id)
    return names


class Initial(StrEnum):
    """Whose value a field keeps when a pair is first linked (within ownership)."""

    PLATFORM = "platform"
    EXTERNAL = "external"
    NEWER = "newer"


def first_winner(
    owner: Owner | None,
    initial: Initial,
    platform_changed: datetime,
    external_changed: datetime,
) -> Owner:
    """The side whose value a field keeps at first link: its owner if it has one, else the
    operator's choice; `newer` takes the side that changed the record last (the platform on
    a tie: it is where the incident is run)."""
    if owner is not None:
        return owner
    if initial is Initial.PLATFORM:
        return Owner.PLATFORM
    if initial is Initial.EXTERNAL:
        return Owner.EXTERNAL
    return Owner.EXTERNAL if external_changed > platform_changed else Owner.PLATFORM
