"""The manual-sync routes (`POST /sync/...`): a `refresh` event per request, on `sync.inbound`.

Who may call them (`SyncGuard`): the bearer of `SYNC_API_TOKEN`. Without a token configured
they refuse every call (403), unless `SYNC_API_OPEN=true` opens them to anyone, which is for
a developer's machine only. The record id follows the one id rule (`syncmodel.ids`), as the
ids in webhooks do.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from incident_sync.ingress import metrics
from incident_sync.ingress.errors import ApiError, json_response
from incident_sync.ingress.handlers import Handler, publish_events
from incident_sync.ingress.lookup import ensure_exists
from incident_sync.ingress.publisher import Publisher
from incident_sync.ingress.sides import Side, Sides
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel import ids
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, Origin, new_id

log = logging.getLogger("ingress")


@dataclass(frozen=True)
class SyncGuard:
    """The bearer `token` the routes require; with none, nobody may call them, unless
    `open` (development only)."""

    token: str | None = None
    open: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncGuard:
        secret = settings.sync_api_token
        token = secret.get_secret_value() if secret is not None else None
        return cls(token=token or None, open=settings.sync_api_open)  # "" is no token

    def warning(self) -> str | None:
        """What the log should say at start, if anything."""
        if self.token is not None:
            return None
        if self.open:
            return "SYNC_API_OPEN is set and no SYNC_API_TOKEN: the /sync routes accept any caller"
        return "SYNC_API_TOKEN is not set: the /sync routes refuse every call"

    def check(self, request: web.Request) -> None:
        if self.token is None:
            if self.open:
                return
            raise ApiError(
                403,
                "forbidden",
                "manual sync is disabled: no SYNC_API_TOKEN is configured on the ingress",
            )
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            raise ApiError(
                401, "unauthorized", "a valid 'Authorization: Bearer <token>' is required"
            )


async def _manual_body(request: web.Request) -> tuple[str, ...]:
    """The optional `{"updated_fields": [...], "old_values": {...}}` of a manual sync."""
    if not request.body_exists:
        return ()
    body = await request.read()
    if not body.strip():
        return ()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_request", "body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "body must be a JSON object")
    fields = data.get("updated_fields", [])
    if fields is None:
        fields = []
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise ApiError(422, "invalid", "updated_fields must be a list of field names")
    old_values = data.get("old_values", {})
    if old_values is not None and not isinstance(old_values, dict):
        raise ApiError(422, "invalid", "old_values must be an object")
    return tuple(dict.fromkeys(fields))


def manual_sync_handler(
    resolve: Callable[[], tuple[Side | None, str]], publisher: Publisher, guard: SyncGuard
) -> Handler:
    """`resolve` names the side (or why there is none) per request: the config may reload."""

    async def handler(request: web.Request) -> web.StreamResponse:
        guard.check(request)
        side, missing_reason = resolve()
        if side is None:
            raise ApiError(404, "not_found", missing_reason)
        record_id = request.match_info["record_id"]
        if (problem := ids.problem(record_id)) is not None:
            raise ApiError(400, "bad_request", f"record id: {problem}")
        only_fields = await _manual_body(request)
        await ensure_exists(side, record_id)  # 404 for a record its tool does not have
        event = ChangeEvent(
            delivery_id=new_id(),
            tenant=side.config.tenant,
            integration_id=side.id,
            external_id=record_id,
            platform_incident_id=record_id if side.is_platform else None,
            kind=ChangeKind.REFRESH,
            only_fields=only_fields,
            origin=Origin.MANUAL,
        )
        try:
            await publish_events(publisher, side, [event])
        except ApiError:
            metrics.MANUAL_SYNCS.labels(side.id, "unavailable").inc()
            raise
        metrics.MANUAL_SYNCS.labels(side.id, "accepted").inc()
        log.info(
            "manual sync requested",
            extra={"integration": side.id, "external_id": record_id, "event_id": event.event_id},
        )
        return json_response({"status": "accepted", "event_id": event.event_id}, status=202)

    return handler


def manual_sync_by_id_handler(sides: Sides, publisher: Publisher, guard: SyncGuard) -> Handler:
    """`POST /sync/{integration_id}/{record_id}`: the manual sync of one record of any
    integration (the platform has `/sync/incident/{id}`)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        guard.check(request)  # before telling which integrations exist
        integration_id = request.match_info["integration_id"]
        side = sides.get(integration_id)
        if side is None or side.is_platform:
            raise ApiError(404, "not_found", f"no integration {integration_id!r} is configured")
        return await manual_sync_handler(lambda: (side, ""), publisher, guard)(request)

    return handler
