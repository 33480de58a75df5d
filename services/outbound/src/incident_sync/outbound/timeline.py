"""A quarantined message on its incident's timeline (`syncstate.timeline`), for every stage
that knows the message's incident: best effort, after the quarantine, which is the record
operators act on (the timeline only says it happened)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.exceptions import RedisError

from incident_sync.outbound.context import Context
from incident_sync.runtime import tracing
from incident_sync.syncstate.timeline import Entry, Kind

log = logging.getLogger(__name__)


async def quarantined(
    ctx: Context,
    tenant: str,
    incident: str | None,
    side: str,
    stage: str,
    exc: BaseException,
    *,
    fields: Sequence[str] = (),
    message_id: str | None = None,
) -> None:
    if incident is None:
        return
    detail = {"stage": stage, "message": message_id, "error": str(exc)}
    entry = Entry(
        Kind.QUARANTINED, (side,), tuple(fields), type(exc).__name__, tracing.trace_id(), detail
    )
    try:
        await ctx.timeline.add(tenant, incident, entry)
    except (RedisError, OSError) as error:
        log.warning("timeline entry not written", extra={"reason": repr(error)})
