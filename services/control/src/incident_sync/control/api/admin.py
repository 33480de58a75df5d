"""Who am I, tokens, encryption keys, the audit trail, the OpenAPI document, health."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from incident_sync.control.api.errors import ApiError, json_response, not_found
from incident_sync.control.api.integrations import audit
from incident_sync.control.api.models import (
    NAME_PATTERN,
    OPTION_MODELS,
    AuditList,
    KeyStatus,
    RotationResult,
    TokenCreated,
    TokenList,
    TokenView,
    WhoAmI,
)
from incident_sync.control.api.routing import Call, openapi
from incident_sync.controlstore.crypto import KeyringError
from incident_sync.runtime import webapp

_NAME = re.compile(NAME_PATTERN)


async def whoami(call: Call) -> web.StreamResponse:
    s = call.subject
    return json_response(WhoAmI(id=s.id, name=s.name, role=s.role, scope=s.scope).model_dump())


# -- tokens ------------------------------------------------------------------------------------
def _check_scope(tenants: list[str], integrations: list[str]) -> None:
    for t in tenants:
        if t != "*" and not _NAME.fullmatch(t):
            raise ApiError(422, "invalid", f"scope.tenants: {t!r} is not a tenant name or *")
    for entry in integrations:
        tenant, _, name = entry.partition("/")
        if not (_NAME.fullmatch(tenant) and _NAME.fullmatch(name)):
            raise ApiError(422, "invalid", f"scope.integrations: {entry!r} is not tenant/name")


async def create_token(call: Call) -> web.StreamResponse:
    body = call.body
    _check_scope(body.scope.tenants, body.scope.integrations)
    token, record = await call.services.tokens.create(
        body.name, body.role, body.scope, created_by=call.subject.name
    )
    shown = TokenView.model_validate(record.model_dump()).model_dump(mode="json")
    await audit(call, None, "token.create", {"kind": "token", "name": record.id}, None, shown)
    return json_response(TokenCreated(**shown, token=token).model_dump(mode="json"), status=201)


async def list_tokens(call: Call) -> web.StreamResponse:
    items = [TokenView.model_validate(r.model_dump()) for r in await call.services.tokens.list()]
    return json_response(TokenList(items=items).model_dump(mode="json"))


async def revoke_token(call: Call) -> web.StreamResponse:
    record = await call.services.tokens.revoke(call.params["token_id"])
    if record is None:
        raise not_found(f"token {call.params['token_id']}")
    shown = TokenView.model_validate(record.model_dump()).model_dump(mode="json")
    await audit(call, None, "token.revoke", {"kind": "token", "name": record.id}, shown, None)
    return json_response({"deleted": record.id})


# -- keys --------------------------------------------------------------------------------------
async def _key_status(call: Call) -> dict[str, Any]:
    keyring = call.services.keyring
    usage = await call.services.store.key_usage()
    return {
        "primary": keyring.primary_id,
        "configured": list(keyring.key_ids),
        "usage": usage,
        "pending": sum(n for kid, n in usage.items() if kid != keyring.primary_id),
    }


async def key_status(call: Call) -> web.StreamResponse:
    return json_response(KeyStatus.model_validate(await _key_status(call)).model_dump())


async def rotate_keys(call: Call) -> web.StreamResponse:
    try:
        resealed = await call.services.store.rotate()
    except KeyringError as exc:
        raise ApiError(
            409, "conflict", f"cannot re-seal: {exc}; give this service every key in use"
        ) from None
    status = await _key_status(call)
    await audit(
        call,
        None,
        "keys.rotate",
        {"kind": "keys", "name": status["primary"]},
        None,
        {"resealed_records": resealed, "usage": status["usage"]},
    )
    result = RotationResult.model_validate({**status, "resealed_records": resealed})
    return json_response(result.model_dump())


# -- audit -------------------------------------------------------------------------------------
async def _audit(call: Call, tenant: str | None) -> web.StreamResponse:
    q = call.query
    items = await call.services.store.audit(tenant, limit=q.limit, action=q.action, name=q.name)
    return json_response(AuditList.model_validate({"items": items}).model_dump(mode="json"))


async def tenant_audit(call: Call) -> web.StreamResponse:
    return await _audit(call, call.tenant)


async def system_audit(call: Call) -> web.StreamResponse:
    return await _audit(call, None)


# -- documents and health ----------------------------------------------------------------------
async def openapi_document(call: Call) -> web.StreamResponse:
    files = call.services.mappings.names()
    document = openapi(
        call.services.routes,
        title="incident-sync control API",
        version="1",
        mapping_files=files,
        components=OPTION_MODELS,
    )
    return json_response(document)


async def health(call: Call) -> web.StreamResponse:
    return webapp.health_response()


async def metrics(call: Call) -> web.StreamResponse:
    """The default registry (the API's and the libraries' metrics), the service base's
    exposition: text, or OpenMetrics when asked."""
    return await webapp.metrics(call.request)


async def ready(call: Call) -> web.StreamResponse:
    async def redis() -> str | None:
        try:
            await call.services.redis.ping()
        except Exception as exc:  # noqa: BLE001 - any Redis failure means not ready
            return f"redis unreachable ({type(exc).__name__})"
        return None

    return await webapp.ready_response({"redis": redis})
