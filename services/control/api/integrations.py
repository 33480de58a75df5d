"""Integrations and the platform connection: CRUD and pause/resume (field ownership is in
ownership.py, the connection test and sync status in syncstatus.py). Every write goes through
`ControlStore.write` (atomic, audited)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from control.api.errors import ApiError, invalid, json_response, not_found
from control.api.models import (
    KEEP_IF_ABSENT,
    Deleted,
    IntegrationList,
    IntegrationView,
    canonical_field,
)
from control.api.routing import Call
from controlstore.records import Kind, StoredSide, open_secrets, seal
from controlstore.store import Actor
from syncmodel.config import SECRET_FIELDS, IntegrationConfig
from syncmodel.mapping import MappingError, read_named_mapping


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


async def existing(call: Call) -> StoredSide:
    """The integration the route names; 404 when there is none."""
    stored = await call.services.store.integration(call.tenant, call.name)
    if stored is None:
        raise not_found(f"integration {call.tenant}/{call.name}")
    return stored


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


def _check_mapping_file(call: Call, fields: Mapping[str, Any]) -> None:
    """A `mapping_file` written must name a mapping file in the mappings directory (its shape,
    a bare name, is checked with the body); 422 naming the field otherwise. Only a value the
    request gives is checked: a file removed later does not block other changes (the pipeline
    leaves such an integration out, with an error in its log)."""
    name = fields.get("mapping_file")
    if name is None:
        return
    try:
        read_named_mapping(call.services.settings.mappings_dir, name)
    except MappingError as exc:
        raise ApiError(422, "invalid", f"mapping_file: {exc}") from None


def _split(body: BaseModel) -> tuple[dict[str, Any], dict[str, SecretStr | None]]:
    """(given non-secret fields, given secrets) of a request body."""
    data = body.model_dump(exclude_unset=True)
    data.pop("name", None)
    secrets = {f: data.pop(f) for f in SECRET_FIELDS if f in data}
    return data, secrets


async def write_side(
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
    _check_mapping_file(call, fields)

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
    _, after = await write_side(
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
    stored = await existing(call)
    return json_response(view(stored))


async def put_integration(call: Call) -> web.StreamResponse:
    fields, secrets = _split(call.body)
    paused = fields.pop("paused", None)
    before, after = await write_side(
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
    _, after = await write_side(
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
    _, after = await write_side(
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
    before, after = await write_side(
        call, "platform", name, "platform.write", fields, secrets, replace=True
    )
    return json_response(view(after), status=201 if before is None else 200)
