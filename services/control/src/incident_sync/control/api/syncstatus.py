"""An integration's live connection test and its sync status (the counters and last
times the worker keeps in Redis, the workers' breakers and consumer lag from their gauges,
`syncstate.health`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx
from aiohttp import web

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.registry import make_connector
from incident_sync.control.api.errors import json_response
from incident_sync.control.api.integrations import existing
from incident_sync.control.api.models import (
    Breaker,
    ConnectionTest,
    ConsumerLag,
    SyncCounters,
    SyncStatus,
    SyncStatusList,
    WorkerBreaker,
)
from incident_sync.control.api.routing import Call
from incident_sync.controlstore import stats as counters
from incident_sync.controlstore.records import StoredSide, to_config
from incident_sync.syncmodel import breakers
from incident_sync.syncmodel.breakers import BreakerReport
from incident_sync.syncmodel.config import resolve_mapping
from incident_sync.syncstate import health, keys


async def test_integration(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    started = time.perf_counter()
    error: str | None = None
    try:
        config = to_config(stored, call.services.keyring)
        connector = make_connector(resolve_mapping(config, call.services.mappings.read))
    except ValueError as exc:  # secrets that do not open, a mapping file gone since written
        error = str(exc)
    except OSError as exc:  # a mapping file that cannot be read: say which, not a 500
        error = f"the mapping file cannot be read: {exc.strerror or type(exc).__name__}"
    else:
        try:
            await asyncio.wait_for(
                connector.test_connection(), call.services.settings.test_timeout_s
            )
        except ToolError as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no answer within {call.services.settings.test_timeout_s}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: cannot reach {stored.config.get('base_url')}"
        finally:
            await connector.aclose()
    result = ConnectionTest(
        name=stored.name,
        ok=error is None,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        error=error,
    )
    return json_response(result.model_dump())


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def breaker(reports: Sequence[BreakerReport], now: float) -> Breaker:
    """The integration's breaker from the workers' reports still valid at `now`."""
    return Breaker(
        state=breakers.worst(reports, now),
        workers=[
            WorkerBreaker(
                worker=r.worker,
                state=r.state,
                at=_at(r.at),
                half_opens_at=None if r.half_opens_at is None else _at(r.half_opens_at),
            )
            for r in breakers.live(reports, now)
        ],
    )


def consumer_lag(lag: health.ConsumerLag | None) -> ConsumerLag:
    if lag is None:
        return ConsumerLag()
    return ConsumerLag(messages=lag.messages, topics=lag.topics, at=_at(lag.at))


def _status(
    stored: StoredSide,
    raw: Mapping[bytes | str, bytes | str],
    reports: Sequence[BreakerReport],
    lag: ConsumerLag,
) -> SyncStatus:
    stats = {_text(k): _text(v) for k, v in raw.items()}
    propagation = stats.get(counters.LAST_PROPAGATION_S)
    return SyncStatus(
        name=stored.name,
        tenant=stored.tenant,
        type=str(stored.config["type"]),
        direction=str(stored.config.get("direction", "bidirectional")),
        paused=bool(stored.config.get("paused", False)),
        counters=SyncCounters.model_validate(
            {f: int(stats.get(f, 0)) for f in counters.STAT_FIELDS}
        ),
        last_inbound_at=stats.get(counters.LAST_INBOUND_AT),
        last_outbound_at=stats.get(counters.LAST_OUTBOUND_AT),
        last_propagation_s=None if propagation is None else float(propagation),
        last_error=stats.get(counters.LAST_ERROR),
        last_error_at=stats.get(counters.LAST_ERROR_AT),
        breaker=breaker(reports, time.time()),
        consumer_lag=lag,
    )


async def _one(call: Call, stored: StoredSide, lag: ConsumerLag) -> SyncStatus:
    tenant = call.tenant
    raw = await call.services.redis.hgetall(keys.stats(tenant, stored.name))
    reports = await health.Health(call.services.redis).breakers(tenant, stored.name)
    return _status(stored, raw, reports, lag)


async def _lag(call: Call) -> ConsumerLag:
    return consumer_lag(await health.Health(call.services.redis).consumer_lag())


async def integration_status(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    return json_response((await _one(call, stored, await _lag(call))).model_dump())


async def tenant_status(call: Call) -> web.StreamResponse:
    items = []
    lag = await _lag(call)
    for stored in await call.services.store.integrations(call.tenant):
        if not call.allowed("status.read", tenant=call.tenant, integration=stored.name):
            continue
        items.append(await _one(call, stored, lag))
    return json_response(SyncStatusList(items=items).model_dump())
