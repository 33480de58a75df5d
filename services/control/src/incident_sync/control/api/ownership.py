"""Field ownership of an integration: its rules (or its type's defaults), one rule set or
removed at a time (`im integration field-ownership ...`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import existing, write_side
from incident_sync.control.api.models import (
    OwnershipEntry,
    OwnershipRule,
    OwnershipView,
    platform_field,
)
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.records import StoredSide
from incident_sync.syncmodel.ownership import FieldOwnership
from incident_sync.syncmodel.tools import known


def _rules(stored: StoredSide) -> tuple[dict[str, FieldOwnership], bool]:
    configured = stored.config.get("ownership")
    if configured is None:
        # A type no connector registers any more (a plugin removed) has no defaults to show.
        traits = known(stored.config["type"])
        return dict(traits.default_ownership if traits is not None else {}), True
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
    stored = await existing(call)
    return json_response(_ownership_view(stored))


async def _change_rule(call: Call, rule: OwnershipRule | None) -> web.StreamResponse:
    field = platform_field(call.params["field"])
    if field is None:
        raise ApiError(422, "invalid", f"unknown field {call.params['field']!r}")
    stored = await existing(call)
    rules, _ = _rules(stored)
    if rule is None:
        if field not in rules:
            raise not_found(f"an ownership rule for {field} on {call.tenant}/{call.name}")
        rules.pop(field)
    else:
        rules[field] = FieldOwnership(owner=rule.owner, priority=rule.priority)
    ownership = {k: v.model_dump(mode="json") for k, v in rules.items()}
    _, after = await write_side(
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
