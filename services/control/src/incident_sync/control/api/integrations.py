"""Integrations and the platform connection: CRUD and pause/resume (field ownership is in
ownership.py, the connection test and sync status in syncstatus.py). Every write goes through
`ControlStore.write` (atomic, audited)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from incident_sync.connectors.registry import REGISTRY
from incident_sync.control.api.errors import ApiError, invalid, json_response, not_found
from incident_sync.control.api.fieldcheck import check_field_maps
from incident_sync.control.api.models import (
    KEEP_IF_ABSENT,
    Deleted,
    IntegrationList,
    IntegrationView,
    platform_field,
)
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.crypto import Keyring, KeyringError
from incident_sync.controlstore.records import Kind, StoredSide, open_secrets, seal, slot
from incident_sync.controlstore.store import Actor, audit_entry
from incident_sync.syncmodel.config import (
    SECRET_FIELDS,
    SENT_SECRET_FIELDS,
    IntegrationConfig,
    declare_problems,
    resolve_mapping,
)
from incident_sync.syncmodel.destination import origin
from incident_sync.syncmodel.mapping import MappingError
from incident_sync.syncmodel.options import check_options


def actor(call: Call) -> Actor:
    role = call.subject.role.value if call.subject.role else ""
    return Actor(call.subject.id, call.subject.name, role)


async def audit(
    call: Call,
    tenant: str | None,
    action: str,
    resource: Mapping[str, Any],
    before: Any = None,
    after: Any = None,
) -> None:
    """Record `action` on `resource` by the caller in `tenant`'s audit trail (None: the
    system's: tokens, keys)."""
    entry = audit_entry(actor(call), action, tenant, resource, before, after)
    await call.services.store.record(tenant, entry)


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
    return IntegrationView.model_validate(data).model_dump(mode="json", by_alias=True)


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
        canonical = platform_field(name)
        if canonical is None:
            raise ApiError(422, "invalid", f"ownership: unknown field {name!r}")
        normalized[canonical] = rule
    data["ownership"] = normalized


# What is valid for one tool type and not another (`IntegrationConfig`'s per-type rules).
_PER_TYPE: Final = frozenset({"options", "features"})


def _config(
    tenant: str,
    name: str,
    fields: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    type_given: bool = True,
) -> IntegrationConfig:
    """The side as the request makes it. A request that leaves `type` out (a PATCH) and gives
    what the stored type does not take, but another type would, conflicts with the current
    state: 409. Options no registered type takes are the body's own fault: 422."""
    data = {**fields, **secrets}
    data.update(id=name, tenant=tenant)
    _normalize_ownership(data)
    try:
        return IntegrationConfig.model_validate(data)
    except ValidationError as exc:
        error = invalid(exc)
        locs = [e["loc"][0] if e["loc"] else "" for e in exc.errors(include_input=False)]
        if (
            not type_given
            and locs
            and all(loc in _PER_TYPE for loc in locs)
            and _some_type_takes(data.get("options") or {})
        ):
            error = ApiError(409, "conflict", f"{data.get('type')} integration: {error.reason}")
        raise error from None


def _some_type_takes(options: Mapping[str, Any]) -> bool:
    """Whether any registered tool type's options model takes `options` as they are."""
    for spec in REGISTRY.specs.values():
        try:
            check_options(spec.type, spec.options, options)
        except ValueError:
            continue
        return True
    return False


def _check_mapping_file(call: Call, fields: Mapping[str, Any]) -> None:
    """A `mapping_file` written must name a mapping file in the mappings directory (its shape,
    a bare name, is checked with the body); 422 naming the field otherwise. Only a value the
    request gives is checked: a file removed later does not block other changes (the pipeline
    leaves such an integration out, with an error in its log)."""
    name = fields.get("mapping_file")
    if name is None:
        return
    try:
        call.services.mappings.read(name)
    except MappingError as exc:
        raise ApiError(422, "invalid", f"mapping_file: {exc}") from None


def _check_declare(call: Call, config: IntegrationConfig) -> None:
    """A declare rule must name fields the side can see (422 naming the condition): checked
    here for a side whose mapping file the model could not read (`IntegrationConfig` checks
    the others)."""
    if config.declare is None or config.mapping_file is None or config.field_map is not None:
        return
    try:
        side = resolve_mapping(config, call.services.mappings.read)
    except MappingError:
        return  # a mapping file gone since: the pipeline leaves the side out, as for others
    if problems := declare_problems(side):
        raise ApiError(422, "invalid", "declare: " + "; ".join(problems))


def _split(body: BaseModel) -> tuple[dict[str, Any], dict[str, SecretStr | None]]:
    """(given non-secret fields, given secrets) of a request body."""
    data = body.model_dump(exclude_unset=True)
    data.pop("name", None)
    secrets = {f: data.pop(f) for f in SECRET_FIELDS if f in data}
    return data, secrets


class SecretsBound(ApiError):
    """A write that would send stored credentials to another address without them being
    given again (409; audited as refused)."""

    def __init__(self, reason: str, moved: Mapping[str, str]) -> None:
        super().__init__(409, "conflict", reason)
        self.moved = dict(moved)


def _bound_check(
    name: str, before: StoredSide, merged: Mapping[str, Any], kept: Collection[str]
) -> None:
    """Refuse moving `before`'s credentials (those kept, not given) to another origin.

    Secrets are bound to where they go: a token or password stored for one host must never
    reach another because someone allowed to edit the integration changed its address. The
    write goes through when every credential is given again (or cleared with null) in the
    same request: then the writer knows them and nothing stored is sent anywhere new.
    """
    new_base = merged.get("base_url")
    if not isinstance(new_base, str):
        return  # validation refuses the request
    old, new = origin(str(before.config["base_url"])), origin(new_base)
    held = sorted(set(kept) & set(SENT_SECRET_FIELDS))
    if old != new and held:
        raise SecretsBound(
            f"{name}: base_url would send the stored {', '.join(held)} to {new} (they were "
            f"given for {old}); give {'it' if len(held) == 1 else 'them'} again in the same "
            "request, or clear with null",
            {"from": old, "to": new},
        )


def _open_each(before: StoredSide, keyring: Keyring) -> tuple[dict[str, str], list[str]]:
    """The stored secrets that open, and the names of those that do not."""
    opened: dict[str, str] = {}
    broken: list[str] = []
    for field in before.secrets:
        try:
            opened.update(open_secrets(before, keyring, (field,)))
        except KeyringError:
            broken.append(field)
    return opened, broken


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
        if not replace:  # a PATCH: null is back to the field's default
            merged = {k: v for k, v in merged.items() if not (k in fields and v is None)}
        if paused is not None:
            merged["paused"] = paused
        kept = [f for f in (before.secrets if before is not None else {}) if f not in given]
        if before is not None:
            _bound_check(name, before, merged, kept)
        # Secrets not given are kept: opened and sealed again (the side's id or address may
        # change, and a sealed value is bound to both); a value that did not change keeps its
        # sealed form, so writing the same secret again is no change at all.
        opened, broken = _open_each(before, keyring) if before is not None else ({}, [])
        if unusable := sorted(set(broken) & set(kept)):
            raise ApiError(
                409,
                "conflict",
                f"{name}: the stored {', '.join(unusable)} cannot be opened by this service "
                "(sealed with a key it lacks, or for another address): give them again, or "
                "clear with null",
            )
        plain = {f: v for f, v in opened.items() if f not in given}
        plain.update({f: v.get_secret_value() for f, v in given.items() if v is not None})
        config = _config(tenant, name, merged, plain, type_given="type" in fields)
        _check_declare(call, config)
        stored = seal(config, keyring, kind=kind)
        if before is not None:
            same = {
                f: sealed
                for f, sealed in before.secrets.items()
                if f in stored.secrets
                and f in opened
                and opened[f] == plain.get(f)
                and slot(before, f) == slot(stored, f)
            }
            stored = stored.model_copy(update={"secrets": {**stored.secrets, **same}})
        return stored

    other_kind: Kind = "platform" if kind == "integration" else "integration"
    if await call.services.store.name_taken(tenant, name, kind):
        raise ApiError(409, "conflict", f"{name!r} is the {other_kind} side's id in {tenant}")
    if fields.get("field_maps"):
        # Asked before the write (the check reads both tools); `mutate` is pure, so the side
        # checked is the one written, unless a concurrent write moved it in between.
        store = call.services.store
        current = await (
            store.platform(tenant) if kind == "platform" else store.integration(tenant, name)
        )
        candidate = mutate(current)
        assert candidate is not None
        await check_field_maps(call, candidate)
    try:
        result = await call.services.store.write(tenant, kind, name, mutate, actor(call), action)
    except SecretsBound as refused:
        entry = audit_entry(actor(call), f"{action}.refused", tenant, {"kind": kind, "name": name})
        entry.update(reason=refused.reason, destination_changed=refused.moved)
        await call.services.store.record(tenant, entry)
        raise
    assert result.after is not None
    return result.before, result.after


# -- integrations ------------------------------------------------------------------------------
async def list_integrations(call: Call) -> web.StreamResponse:
    items = [
        view(s)
        for s in await call.services.store.integrations(call.tenant)
        if call.allowed("integration.read", tenant=call.tenant, integration=s.name)
    ]
    listed = IntegrationList.model_validate({"items": items})
    return json_response(listed.model_dump(mode="json", by_alias=True))


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
