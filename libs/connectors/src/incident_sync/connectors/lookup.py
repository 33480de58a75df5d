"""Whether a record exists in its tool: asked before a manual sync is accepted, so the caller
learns at once that the record it named is not there (rather than a sync queued for nothing).

`look_up` reads the record through the side's connector and sorts the outcome; each service
answers it in its own error vocabulary. `resolve` does the same for a record named as its
users know it (`Connector.resolve`: a ServiceNow number, a Jira key), and carries the record.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from incident_sync.connectors.base import Connector, RecordNotFound, RecordState, ToolError


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
    record: RecordState | None = None  # the record read, when found


async def look_up(connector: Connector, record_id: str) -> Lookup:
    """Read `record_id` once; never raises for what the tool answers."""
    return await _read(connector, connector.fetch, record_id)


async def resolve(connector: Connector, reference: str) -> Lookup:
    """Find the record users know as `reference` once; never raises for what the tool
    answers. Found, `record.external_id` is the tool's id of it."""
    return await _read(connector, connector.resolve, reference)


async def _read(
    connector: Connector, read: Callable[[str], Awaitable[RecordState]], record_id: str
) -> Lookup:
    side = connector.config.id
    try:
        record = await read(record_id)
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
    return Lookup(Found.FOUND, record=record)
