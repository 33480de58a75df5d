"""Existing records as the matcher sees them (`syncmodel.matching.Candidate`): a platform
incident or a tool's record, its title, when it was made, its reference, the correlation it
holds (a tool's record only) and the words of its fields that could name the other side."""

from __future__ import annotations

from datetime import datetime

from incident_sync.connectors.base import RecordState
from incident_sync.syncmodel.matching import Candidate, mentions


def candidate(record: RecordState, *, correlation: bool, now: datetime) -> Candidate:
    """`correlation`: the record's correlation field counts (a tool's record; a platform
    incident is its own "record", its id is no correlation)."""
    return Candidate(
        id=record.external_id,
        title=record.fields.get("title") or "",
        created=record.created_at or record.updated_at or now,
        reference=record.reference,
        correlation=record.platform_incident_id if correlation else None,
        mentions=mentions(record.fields.values()),
    )
