"""The dead-letter queue of an integration: list, retry (one, or all matching a filter),
discard.

An integration's DLQ holds the writes to it the delivery gave up on, and its own changes that
could not be written to the platform. Retrying takes the entry out of the index and publishes
its command on `sync.outbound` again as attempt 1 of a fresh ladder (next hop, so the
delivery's dedupe does not mistake it for the message it already handled); it is applied only
where it is still the standing change (a stale retry never overwrites newer state). Both
operations are audited.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, Field

from incident_sync.control.api import retrying
from incident_sync.control.api.errors import json_response, not_found
from incident_sync.control.api.integrations import audit
from incident_sync.control.api.routing import Call
from incident_sync.syncmodel import codec, topics
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate.dlq import DlqEntry, DlqIndex, requeue


class DlqQuery(retrying.Query):
    reason: DeadReason | None = Field(None, description="rejected, exhausted or internal")


class DlqList(BaseModel):
    depth: int = Field(description="entries in the integration's DLQ")
    items: list[DlqEntry]


class DlqRetryAll(retrying.RetryAll):
    reason: DeadReason | None = Field(None, description="only entries that died so")
    dead_before: datetime | None = Field(None, description="only entries that died before")


class DlqRetried(retrying.Retried):
    """`remaining`: the entries left in the integration's DLQ."""


def _index(call: Call) -> DlqIndex:
    return DlqIndex(call.services.redis)


async def _integration(call: Call) -> None:
    if await call.services.store.integration(call.tenant, call.name) is None:
        raise not_found(f"integration {call.tenant}/{call.name}")


async def _publish(call: Call, entry: DlqEntry) -> None:
    key, cmd = requeue(entry)
    try:
        await call.services.publish(topics.COMMANDS, key, codec.encode(cmd), [])
    except (KafkaError, OSError, TimeoutError) as exc:  # broker away: put it back
        await _index(call).add(entry)
        raise retrying.unavailable(exc) from None


async def _audit(call: Call, action: str, entries: list[DlqEntry]) -> None:
    await audit(
        call,
        call.tenant,
        action,
        {"kind": "integration", "name": call.name},
        {"dlq_entries": [e.id for e in entries]},
        None,
    )


async def list_dlq(call: Call) -> web.StreamResponse:
    await _integration(call)
    q: DlqQuery = call.query
    index = _index(call)
    items = await index.list(
        call.tenant, call.name, reason=q.reason, contains=q.contains, limit=q.limit
    )
    depth = await index.depth(call.tenant, call.name)
    return json_response(DlqList(depth=depth, items=items).model_dump(mode="json"))


async def retry_entry(call: Call) -> web.StreamResponse:
    await _integration(call)
    entry = await _index(call).take(call.tenant, call.name, call.params["entry_id"])
    if entry is None:
        raise not_found(f"DLQ entry {call.params['entry_id']} of {call.tenant}/{call.name}")
    await _publish(call, entry)
    await _audit(call, "dlq.retry", [entry])
    remaining = await _index(call).depth(call.tenant, call.name)
    return retrying.answer(DlqRetried(retried=[entry.id], remaining=remaining))


async def retry_all(call: Call) -> web.StreamResponse:
    await _integration(call)
    body: DlqRetryAll = call.body
    index = _index(call)
    matching = [
        e
        for e in await index.list(
            call.tenant, call.name, reason=body.reason, contains=body.contains, limit=body.limit
        )
        if body.dead_before is None or e.dead_at < body.dead_before
    ]
    retried: list[DlqEntry] = []
    if not body.dry_run:

        async def take(entry_id: str) -> DlqEntry | None:
            return await index.take(call.tenant, call.name, entry_id)

        async def audit(entries: list[DlqEntry]) -> None:
            await _audit(call, "dlq.retry", entries)

        # Oldest first: the commands go out in the order they died.
        retried = await retrying.retry_each(matching, take, partial(_publish, call), audit)
    ids = [e.id for e in (matching if body.dry_run else retried)]
    remaining = await index.depth(call.tenant, call.name)
    return retrying.answer(DlqRetried(dry_run=body.dry_run, retried=ids, remaining=remaining))


async def discard_entry(call: Call) -> web.StreamResponse:
    await _integration(call)
    entry = await _index(call).take(call.tenant, call.name, call.params["entry_id"])
    if entry is None:
        raise not_found(f"DLQ entry {call.params['entry_id']} of {call.tenant}/{call.name}")
    await _audit(call, "dlq.discard", [entry])
    return json_response(entry.model_dump(mode="json"))
