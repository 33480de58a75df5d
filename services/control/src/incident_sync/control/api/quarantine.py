"""The quarantine of a tenant: the messages a stage could not process (undecodable, a bug, a
request the connector cannot build, a record too large to produce), with the stage, the error
and the original bytes. List (filter by integration, stage, error text), show one (with its
bytes), retry (one, or every entry matching a filter; `dry_run` lists them), discard.

Retrying takes the entry out of the index and publishes its original bytes, key and headers to
the topic of the stage where it failed (`retry_topic`), so it re-enters that stage; should the
broker refuse it (away: 503; still too large: 409), it is put back. The stages never marked a
quarantined message as handled, so the retry is processed (`syncstate.quarantine`). Entries no
integration could be told for are the tenant's: only tenant-wide roles see them. Retries and
discards are audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, Field

from incident_sync.control.api import retrying
from incident_sync.control.api.context import Services
from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import audit
from incident_sync.control.api.models import Name
from incident_sync.control.api.routing import Call
from incident_sync.syncstate.quarantine import (
    QuarantinedMessage,
    QuarantineEntry,
    QuarantineIndex,
    Stage,
    retry_record,
    too_large,
)


class QuarantineQuery(retrying.Query):
    integration: Name | None = Field(None, description="only this integration's entries")
    stage: Stage | None = Field(None, description="only entries of this stage")


class QuarantineList(BaseModel):
    depth: int = Field(description="entries in the tenant's quarantine")
    items: list[QuarantinedMessage] = Field(description="without their bytes (see one entry)")


class QuarantineRetryAll(retrying.RetryAll):
    integration: Name | None = Field(None, description="only this integration's entries")
    stage: Stage | None = Field(None, description="only entries of this stage")
    quarantined_before: datetime | None = Field(None, description="only entries older")


class QuarantineRetried(retrying.Retried):
    """`remaining`: the entries left in the tenant's quarantine."""


def _index(services: Services) -> QuarantineIndex:
    return QuarantineIndex(services.redis)


def _whose(entry: QuarantinedMessage | None) -> dict[str, Any]:
    # No `integration` at all for the tenant's entries (the policy reads a null as a value).
    return {"integration": entry.integration_id} if entry and entry.integration_id else {}


async def quarantine_resource(services: Services, params: Mapping[str, str]) -> dict[str, Any]:
    """What the policy knows of an entry: whose it is (none: the tenant's)."""
    return _whose(await _index(services).get(params["tenant"], params["quarantine_id"]))


def _visible(call: Call, action: str, entry: QuarantinedMessage) -> bool:
    return call.allowed(action, tenant=call.tenant, quarantine_entry=entry.id, **_whose(entry))


async def _publish(call: Call, entry: QuarantineEntry) -> None:
    key, value, headers = retry_record(entry)
    try:
        await call.services.publish(entry.retry_topic, key, value, headers)
    except (KafkaError, OSError, TimeoutError) as exc:
        await _index(call.services).add(entry)  # put back
        if too_large(exc):
            raise ApiError(
                409,
                "conflict",
                f"{entry.id} is still too large for {entry.retry_topic} ({entry.size} bytes); "
                "raise KAFKA_MAX_MESSAGE_BYTES (the chart's kafka.maxMessageBytes) first",
            ) from None
        raise retrying.unavailable(exc) from None


async def _audit(call: Call, action: str, entries: list[QuarantineEntry]) -> None:
    await audit(
        call,
        call.tenant,
        action,
        {"kind": "quarantine", "name": call.tenant},
        {
            "quarantine_entries": [
                {"id": e.id, "stage": e.stage.value, "integration": e.integration_id}
                for e in entries
            ]
        },
        None,
    )


async def list_quarantine(call: Call) -> web.StreamResponse:
    q: QuarantineQuery = call.query
    index = _index(call.services)
    items = await index.list(
        call.tenant, integration=q.integration, stage=q.stage, contains=q.contains, limit=q.limit
    )
    visible = [e.summary() for e in items if _visible(call, "quarantine.read", e)]
    depth = await index.depth(call.tenant)
    return json_response(QuarantineList(depth=depth, items=visible).model_dump(mode="json"))


def _missing(call: Call) -> ApiError:
    return not_found(f"quarantine entry {call.params['quarantine_id']} of {call.tenant}")


async def get_entry(call: Call) -> web.StreamResponse:
    entry = await _index(call.services).get(call.tenant, call.params["quarantine_id"])
    if entry is None:
        raise _missing(call)
    return json_response(entry.model_dump(mode="json"))


async def retry_entry(call: Call) -> web.StreamResponse:
    index = _index(call.services)
    entry = await index.take(call.tenant, call.params["quarantine_id"])
    if entry is None:
        raise _missing(call)
    await _publish(call, entry)
    await _audit(call, "quarantine.retry", [entry])
    return retrying.answer(
        QuarantineRetried(retried=[entry.id], remaining=await index.depth(call.tenant))
    )


async def retry_all(call: Call) -> web.StreamResponse:
    body: QuarantineRetryAll = call.body
    index = _index(call.services)
    matching = [
        e
        for e in await index.list(
            call.tenant,
            integration=body.integration,
            stage=body.stage,
            contains=body.contains,
            before=body.quarantined_before,
            limit=body.limit,
        )
        if _visible(call, "quarantine.retry", e)
    ]
    retried: list[QuarantineEntry] = []
    if not body.dry_run:

        async def take(entry_id: str) -> QuarantineEntry | None:
            return await index.take(call.tenant, entry_id)

        async def audit(entries: list[QuarantineEntry]) -> None:
            await _audit(call, "quarantine.retry", entries)

        # Oldest first: the messages go back in the order they failed.
        retried = await retrying.retry_each(matching, take, partial(_publish, call), audit)
    ids = [e.id for e in (matching if body.dry_run else retried)]
    remaining = await index.depth(call.tenant)
    return retrying.answer(
        QuarantineRetried(dry_run=body.dry_run, retried=ids, remaining=remaining)
    )


async def discard_entry(call: Call) -> web.StreamResponse:
    entry = await _index(call.services).take(call.tenant, call.params["quarantine_id"])
    if entry is None:
        raise _missing(call)
    await _audit(call, "quarantine.discard", [entry])
    return json_response(entry.summary().model_dump(mode="json"))
