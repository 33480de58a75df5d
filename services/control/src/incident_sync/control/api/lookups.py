"""Reading one record through its side's connector before a request is accepted (a manual
sync, a link): the connector made for the call and closed after, and what the tool answered
in the API's errors (404 no such record, 503 it cannot be asked now, 502 it refuses)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from incident_sync.connectors.base import Connector, RecordState
from incident_sync.connectors.lookup import Found, Lookup, look_up
from incident_sync.connectors.registry import make_connector
from incident_sync.control.api.errors import ApiError, not_found
from incident_sync.control.api.routing import Call
from incident_sync.controlstore.records import StoredSide, to_config
from incident_sync.syncmodel.config import resolve_mapping

Reader = Callable[[Connector, str], Awaitable[Lookup]]


def connector_of(call: Call, stored: StoredSide) -> Connector:
    """The side's connector (the caller closes it); 409 when it cannot be made."""
    try:
        config = to_config(stored, call.services.keyring)
        return make_connector(resolve_mapping(config, call.services.mappings.read))
    except ValueError as exc:  # a mapping file gone, a tool without a connector
        raise ApiError(409, "conflict", f"{stored.name} cannot be read: {exc}") from None


def lookup_error(lookup: Lookup) -> ApiError:
    """What a read that found nothing answers: 404 when the tool has no such record, 503
    (with Retry-After) when it cannot be asked now, 502 when it refuses."""
    if lookup.found is Found.MISSING:
        return ApiError(404, "not_found", lookup.reason)
    if lookup.found is Found.UNAVAILABLE:
        wait = math.ceil(lookup.retry_after_s) if lookup.retry_after_s else 5
        return ApiError(503, "unavailable", lookup.reason, headers={"Retry-After": str(wait)})
    return ApiError(502, "bad_gateway", lookup.reason)


async def read_record(
    call: Call,
    stored: StoredSide,
    record_id: str,
    *,
    read: Reader = look_up,
    missing: str | None = None,
    failed: Callable[[Lookup], None] | None = None,
) -> RecordState:
    """The record `read` finds as `record_id` through `stored`'s connector: by the tool's
    id, or by the reference its users know with `read=connectors.lookup.resolve`. Raises
    `lookup_error`'s ApiError when it finds none (the 404 saying `missing` does not exist,
    when given), after telling `failed`; 409 when the connector cannot be made."""
    connector = connector_of(call, stored)
    try:
        lookup = await read(connector, record_id)
    finally:
        await connector.aclose()
    if lookup.record is not None:
        return lookup.record
    if failed is not None:
        failed(lookup)
    if missing is not None and lookup.found is Found.MISSING:
        raise not_found(missing)
    raise lookup_error(lookup)
