"""Whether a record exists in its tool: asked before a manual sync is accepted, so the caller
learns at once that the record it named is not there (rather than a sync queued for nothing).

`look_up` reads the record through the side's connector and sorts the outcome; each service
answers it in its own error vocabulary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from incident_sync.connectors.base import Connector, RecordNotFound, ToolError


class Found(enum.Enum):
    FOUND = "found"
    MISSING = "missing"  # the tool says there is no such record
    UNAVAILABLE = "unavailable"  # the tool cannot be asked now (timeout, 5xx, 429, ...)
    REFUSED = "refused"  # the tool refused the read (credentials, permissions, a bad id)


@dataclass(frozen=True)
class Lookup:
    found: Found
    reason: str = ""
    retry_after_s: float | None = None


async def look_up(connector: Connector, record_id: str) -> Lookup:
    """Read `record_id` once; never raises for what the tool answers."""
    side = connector.config.id
    try:
        await connector.fetch(record_id)
    except RecordNotFound:
        return Lookup(Found.MISSING, f"{side} has no record {record_id!r}")
    except ToolError as exc:
        if exc.retryable:
            return Lookup(
                Found.UNAVAILABLE,
                f"{side} cannot be asked about record {record_id!r} now: {exc}",
                exc.retry_after_s,
            )
        return Lookup(Found.REFUSED, f"{side} refused to read record {record_id!r}: {exc}")
    return Lookup(Found.FOUND)
