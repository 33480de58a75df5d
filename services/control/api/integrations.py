"""Integrations and the platform connection: CRUD, pause/resume, field ownership, connection
test and sync status. Every write goes through `ControlStore.write` (atomic, audited)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from connectors.base import ToolError
from connectors.registry import make_connector
from control.api.errors import ApiError, invalid, json_response, not_found
from control.api.models import (
    KEEP_IF_ABSENT,
    ConnectionTest,
    Deleted,
    IntegrationList,
    IntegrationView,
    OwnershipEntry,
    OwnershipRule,
    OwnershipView,
    SyncStatus,
    SyncStatusList,
    canonical_field,
)
from control.api.routing import Call
from controlstore import keys
from controlstore.records import Kind, StoredSide, open_secrets, seal, to_config
from controlstore.store import Actor
from syncmodel.config import SECRET_FIELDS, IntegrationConfig
from syncmodel.fields import ToolType
from syncmodel.ownership import FieldOwnership, default_ownership


def actor(call: Call) -> Actor:
    role = call.subject.role.value if call.subject.role else ""
    return Actor(call.subject.id, call.subject.name, role)


def view(stored: StoredSide) -> dict[str, Any]:
    data = {
        **{k: v for k, v in stored.config.items() if k != "id"},
        "name": stored.name,
        "secrets": {f: ("set" if s else "unset") for f, s in stored.secrets_set().items()},
        "revision": stored.meta.revision,
        "created_at": stored.meta.created_at,
        "updated_at": stored.meta.updated_at,
        "created_by": stored.meta.created_by,
        "updated_by": stored.meta.updated_by,
    }
    return IntegrationView.model_validate(data).model_dump(mode="json")


def _normalize_ownership(data: dict[str, Any]) -> None:
    rules = data.get("ownership")
    if not rules:
        return
    normalized: dict[str, Any] = {}
    for name, rule in rules.items():
        canonical = canonical_field(name)
        if canonical is None:
            raise ApiError(422, "invalid", f"ownership: unknown field {name!r}")
        normalized[canonical] = rule
    data["ownership"] = normalized


def _config(
    tenant: str, name: str, fields: Mapping[str, Any], secrets: Mapping[str, str]
) -> IntegrationConfig:
    data = {**fields, **secrets}
    data.update(id=name, tenant=tenant)
    _normalize_ownership(data)
    try:
        return IntegrationConfig.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


def _split(body: BaseModel) -> tuple[dict[str, Any], dict[str, SecretStr | None]]:
    """(given non-secret fields, given secrets) of a request body."""
    data = body.model_dump(exclude_unset=True)
    data.pop("name", None)
    secrets = {f: data.pop(f) for f in SECRET_FIELDS if f in data}
    return data, secrets


async def _write(
    call: Call,
    kind: Kind,
    name: str,
    action: str,
    fields: Mapping[str, Any],
    given: Mapping[str, SecretStr | None],
    *,
    replace: bool,
    paused: bool | None = None,
    must_exist: bool = False,
    must_not_exist: bool = False,
) -> tuple[StoredSide | None, StoredSide]:
    tenant = call.tenant
    keyring = call.services.keyring

    def mutate(before: StoredSide | None) -> StoredSide | None:
        if before is None and must_exist:
            raise not_found(f"integration {tenant}/{name}")
        if before is not None and must_not_exist:
            raise ApiError(
                409, "conflict", f"{tenant}/{name} exists: use PUT or PATCH to change it"
            )
        base: dict[str, Any] = {}
        if before is not None and not replace:
            base = {k: v for k, v in before.config.items() if k not in ("id", "tenant")}
        elif before is not None:
            base = {k: v for k, v in before.config.items() if k in KEEP_IF_ABSENT}
        merged = {**base, **fields}
        if paused is not None:
            merged["paused"] = paused
        # Secrets not given are kept: opened and sealed again (the side's id may change, and
        # a sealed value is bound to its slot); a value that did not change keeps its sealed
        # form, so writing the same secret again is no change at all.
        opened = open_secrets(before, keyring) if before is not None else {}
        plain = {f: v for f, v in opened.items() if f not in given}
        plain.update({f: v.get_secret_value() for f, v in given.items() if v is not None})
        stored = seal(_config(tenant, name, merged, plain), keyring, kind=kind)
        if before is not None and before.name == name:
            same = {
                f: sealed
                for f, sealed in before.secrets.items()
                if f in stored.secrets and opened.get(f) == plain.get(f)
            }
            stored = stored.model_copy(update={"secrets": {**stored.secrets, **same}})
        return stored

    other_kind: Kind = "platform" if kind == "integration" else "integration"
    if await call.services.store.name_taken(tenant, name, kind):
        raise ApiError(409, "conflict", f"{name!r} is the {other_kind} side's id in {tenant}")
    result = await call.services.store.write(tenant, kind, name, mutate, actor(call), action)
    assert result.after is not None
    return result.before, result.after


# -- integrations ------------------------------------------------------------------------------
async def list_integrations(call: Call) -> web.StreamResponse:
    items = [
        view(s)
        for s in await call.services.store.integrations(call.tenant)
        if call.allowed("integration.read", tenant=call.tenant, integration=s.name)
    ]
    return json_response(IntegrationList.model_validate({"items": items}).model_dump(mode="json"))


async def create_integration(call: Call) -> web.StreamResponse:
    fields, secrets = _split(call.body)
    name = call.body.name
    if not call.allowed("integration.create", tenant=call.tenant, integration=name):
        raise ApiError(403, "forbidden", f"not allowed to create {call.tenant}/{name}")
    paused = fields.pop("paused", None)
    _, after = await _write(
        call,
        "integration",
        name,
        "integration.create",
        fields,
        secrets,
        replace=True,
        paused=paused,
        must_not_exist=True,
    )
    return json_response(view(after), status=201)


async def get_integration(call: Call) -> web.StreamResponse:
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    return json_response(view(stored))


async def put_integration(call: Call) -> web.StreamResponse:
    fields, secrets = _split(call.body)
    paused = fields.pop("paused", None)
    before, after = await _write(
        call,
        "integration",
        call.name,
        "integration.apply",
        fields,
        secrets,
        replace=True,
        paused=paused,
    )
    return json_response(view(after), status=201 if before is None else 200)


async def patch_integration(call: Call) -> web.StreamResponse:
    fields, secrets = _split(call.body)
    _, after = await _write(
        call,
        "integration",
        call.name,
        "integration.update",
        fields,
        secrets,
        replace=False,
        must_exist=True,
    )
    return json_response(view(after))


async def delete_integration(call: Call) -> web.StreamResponse:
    tenant, name = call.tenant, call.name

    def mutate(before: StoredSide | None) -> StoredSide | None:
        if before is None:
            raise not_found(f"integration {tenant}/{name}")
        return None

    await call.services.store.write(
        tenant, "integration", name, mutate, actor(call), "integration.delete"
    )
    return json_response(Deleted(deleted=f"{tenant}/{name}").model_dump())


async def _set_paused(call: Call, paused: bool) -> web.StreamResponse:
    action = "integration.pause" if paused else "integration.resume"
    _, after = await _write(
        call,
        "integration",
        call.name,
        action,
        {},
        {},
        replace=False,
        paused=paused,
        must_exist=True,
    )
    return json_response(view(after))


async def pause_integration(call: Call) -> web.StreamResponse:
    return await _set_paused(call, True)


async def resume_integration(call: Call) -> web.StreamResponse:
    return await _set_paused(call, False)


# -- field ownership ---------------------------------------------------------------------------
def _rules(stored: StoredSide) -> tuple[dict[str, FieldOwnership], bool]:
    configured = stored.config.get("ownership")
    if configured is None:
        return default_ownership(ToolType(stored.config["type"])), True
    return {k: FieldOwnership.model_validate(v) for k, v in configured.items()}, False


def _ownership_view(stored: StoredSide) -> dict[str, Any]:
    rules, defaults = _rules(stored)
    entries = [
        OwnershipEntry(
            field=f,
            owner=r.owner.value,
            priority=r.priority,
            source="default" if defaults else "configured",
        )
        for f, r in sorted(rules.items())
    ]
    return OwnershipView(
        integration=stored.name, uses_type_defaults=defaults, rules=entries
    ).model_dump()


async def get_ownership(call: Call) -> web.StreamResponse:
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    return json_response(_ownership_view(stored))


async def _change_rule(call: Call, rule: OwnershipRule | None) -> web.StreamResponse:
    field = canonical_field(call.params["field"])
    if field is None:
        raise ApiError(422, "invalid", f"unknown field {call.params['field']!r}")
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    rules, _ = _rules(stored)
    if rule is None:
        if field not in rules:
            raise not_found(f"an ownership rule for {field} on {call.tenant}/{call.name}")
        rules.pop(field)
    else:
        rules[field] = FieldOwnership(owner=rule.owner, priority=rule.priority)
    ownership = {k: v.model_dump(mode="json") for k, v in rules.items()}
    _, after = await _write(
        call,
        "integration",
        call.name,
        "integration.update",
        {"ownership": ownership},
        {},
        replace=False,
        must_exist=True,
    )
    return json_response(_ownership_view(after))


async def set_ownership(call: Call) -> web.StreamResponse:
    return await _change_rule(call, call.body)


async def delete_ownership(call: Call) -> web.StreamResponse:
    return await _change_rule(call, None)


# -- connection test and status ----------------------------------------------------------------
async def test_integration(call: Call) -> web.StreamResponse:
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    started = time.perf_counter()
    error: str | None = None
    try:
        connector = make_connector(to_config(stored, call.services.keyring))
    except ValueError as exc:
        error = str(exc)
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
        counters={f: int(stats.get(f, 0)) for f in keys.STAT_FIELDS},
        last_inbound_at=stats.get(keys.LAST_INBOUND_AT),
        last_outbound_at=stats.get(keys.LAST_OUTBOUND_AT),
        last_error=stats.get(keys.LAST_ERROR),
        last_error_at=stats.get(keys.LAST_ERROR_AT),
    )


async def integration_status(call: Call) -> web.StreamResponse:
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
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


# -- the platform connection -------------------------------------------------------------------
async def get_platform(call: Call) -> web.StreamResponse:
    stored = await call.services.store.platform(call.tenant)
    if stored is None:
        raise not_found(f"a platform connection for tenant {call.tenant}")
    return json_response(view(stored))


async def put_platform(call: Call) -> web.StreamResponse:
    fields, secrets = _split(call.body)
    fields.pop("paused", None)
    name = call.body.name
    before, after = await _write(
        call, "platform", name, "platform.write", fields, secrets, replace=True
    )
    return json_response(view(after), status=201 if before is None else 200)
