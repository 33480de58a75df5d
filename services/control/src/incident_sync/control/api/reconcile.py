"""Reconciliation: ask for a run, read the history, set the schedule.

A run asked for here is queued in Redis for the integration (`syncstate.reconcile`); the
reconciler holding the integration's lease takes it within a tick, runs it on the real tools
and records the outcome on the same record, which `GET .../reconcile/runs/{run_id}` shows
(`im integration reconcile` waits for it). Requests and schedule changes are audited.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from incident_sync.control.api.errors import json_response, not_found
from incident_sync.control.api.integrations import audit
from incident_sync.control.api.routing import Call
from incident_sync.syncmodel.drift import MissingPolicy
from incident_sync.syncstate.reconcile import (
    ReconcileRun,
    ReconcileSchedule,
    ReconcileStore,
    RunMode,
)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
# What a schedule takes (the OpenAPI document says so too): at least one second, at most
# what six digits of days make.
INTERVAL_PATTERN: Final = r"^0*[1-9][0-9]{0,5}[smhd]?$"
MAX_INTERVAL_S: Final = 999_999 * 86_400
_UNIT_S: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def seconds(value: int | str) -> int:
    """An interval in seconds: a number, or `90s`, `15m`, `1h`, `1d`."""
    if isinstance(value, int):
        return value
    m = _DURATION.match(value)
    if m is None:
        raise ValueError("an interval is a number of seconds or like 30s, 15m, 1h, 1d")
    return int(m[1]) * _UNIT_S[m[2]]


def human(interval_s: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if interval_s % size == 0:
            return f"{interval_s // size}{unit}"
    return f"{interval_s}s"


class ReconcileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: RunMode = Field(description="dry-run: report only; auto-heal: also send corrections")
    on_missing: MissingPolicy | None = Field(
        None,
        description="a link whose record is gone: report, unlink, or recreate the tool's "
        "record (default: the schedule's setting, else report)",
    )


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval: (
        Annotated[int, Field(ge=1, le=MAX_INTERVAL_S)]
        | Annotated[str, Field(pattern=INTERVAL_PATTERN)]
    ) = Field(description="seconds, or like 30s, 15m, 1h, 1d (at least 1s)")
    auto_heal: bool = False
    enabled: bool = True
    on_missing: MissingPolicy = MissingPolicy.REPORT

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: int | str) -> int:
        interval = seconds(value)
        if interval < 1:
            raise ValueError("the interval must be at least 1 second")
        return interval


class ScheduleView(BaseModel):
    integration: str
    interval_s: int
    interval: str
    auto_heal: bool
    enabled: bool
    on_missing: MissingPolicy
    updated_at: str
    updated_by: str | None


class RunList(BaseModel):
    items: list[ReconcileRun]


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=200)


def _store(call: Call) -> ReconcileStore:
    return ReconcileStore(call.services.redis)


async def _integration_exists(call: Call) -> None:
    if await call.services.store.integration(call.tenant, call.name) is None:
        raise not_found(f"integration {call.tenant}/{call.name}")


def _schedule_view(name: str, schedule: ReconcileSchedule) -> dict[str, Any]:
    return ScheduleView(
        integration=name,
        interval_s=schedule.interval_s,
        interval=human(schedule.interval_s),
        auto_heal=schedule.auto_heal,
        enabled=schedule.enabled,
        on_missing=schedule.on_missing,
        updated_at=schedule.updated_at.isoformat(),
        updated_by=schedule.updated_by,
    ).model_dump(mode="json")


async def request_run(call: Call) -> web.StreamResponse:
    await _integration_exists(call)
    body: ReconcileRequest = call.body
    on_missing = body.on_missing
    if on_missing is None:
        schedule = await _store(call).schedule(call.tenant, call.name)
        on_missing = schedule.on_missing if schedule is not None else MissingPolicy.REPORT
    run = ReconcileRun(
        tenant=call.tenant,
        integration=call.name,
        mode=body.mode,
        on_missing=on_missing,
        requested_by=call.subject.name,
    )
    await _store(call).request(run)
    if run.mode is RunMode.AUTO_HEAL or on_missing is not MissingPolicy.REPORT:
        # A run that may change the tools is an operator action worth the audit trail.
        await audit(
            call,
            call.tenant,
            "integration.reconcile",
            {"kind": "integration", "name": call.name},
            after={"run": run.id, "mode": run.mode.value, "on_missing": on_missing.value},
        )
    return json_response(run.model_dump(mode="json"), status=202)


async def list_runs(call: Call) -> web.StreamResponse:
    await _integration_exists(call)
    runs = await _store(call).history(call.tenant, call.name, limit=call.query.limit)
    return json_response(RunList(items=runs).model_dump(mode="json"))


async def get_run(call: Call) -> web.StreamResponse:
    run = await _store(call).get(call.tenant, call.params["run_id"])
    if run is None or run.integration != call.name:
        raise not_found(f"reconcile run {call.params['run_id']} of {call.tenant}/{call.name}")
    return json_response(run.model_dump(mode="json"))


async def get_schedule(call: Call) -> web.StreamResponse:
    await _integration_exists(call)
    schedule = await _store(call).schedule(call.tenant, call.name)
    if schedule is None:
        raise not_found(f"a reconcile schedule for {call.tenant}/{call.name} (none is set)")
    return json_response(_schedule_view(call.name, schedule))


async def set_schedule(call: Call) -> web.StreamResponse:
    await _integration_exists(call)
    body: ScheduleRequest = call.body
    store = _store(call)
    before = await store.schedule(call.tenant, call.name)
    schedule = ReconcileSchedule(
        interval_s=seconds(body.interval),
        auto_heal=body.auto_heal,
        enabled=body.enabled,
        on_missing=body.on_missing,
        updated_by=call.subject.name,
    )
    await store.set_schedule(call.tenant, call.name, schedule)
    await audit(
        call,
        call.tenant,
        "integration.reconcile.schedule",
        {"kind": "integration", "name": call.name},
        before.model_dump(mode="json") if before is not None else None,
        schedule.model_dump(mode="json"),
    )
    return json_response(_schedule_view(call.name, schedule))
