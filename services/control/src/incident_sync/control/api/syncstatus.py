"""An integration's live connection test and its sync status (the counters and last
times the worker keeps in Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx
from aiohttp import web

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.registry import make_connector
from incident_sync.control.api.errors import json_response
from incident_sync.control.api.integrations import existing
from incident_sync.control.api.models import (
    ConnectionTest,
    SyncCounters,
    SyncStatus,
    SyncStatusList,
)
from incident_sync.control.api.routing import Call
from incident_sync.controlstore import stats as counters
from incident_sync.controlstore.records import StoredSide, to_config
from incident_sync.syncmodel.config import resolve_mapping
from incident_sync.syncstate import keys


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


def _status(stored: StoredSide, raw: Mapping[bytes | str, bytes | str]) -> SyncStatus:
    stats = {_text(k): _text(v) for k, v in raw.items()}
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
        last_error=stats.get(counters.LAST_ERROR),
        last_error_at=stats.get(counters.LAST_ERROR_AT),
    )


async def integration_status(call: Call) -> web.StreamResponse:
    stored = await existing(call)
    raw = await call.services.redis.hgetall(keys.stats(call.tenant, call.name))
    return json_response(_status(stored, raw).model_dump())


async def tenant_status(call: Call) -> web.StreamResponse:
    items = []
    for stored in await call.services.store.integrations(call.tenant):
        if not call.allowed("status.read", tenant=call.tenant, integration=stored.name):
            continue
        raw = await call.services.redis.hgetall(keys.stats(call.tenant, stored.name))
        items.append(_status(stored, raw))
    return json_response(SyncStatusList(items=items).model_dump())
