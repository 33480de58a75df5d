"""Request handlers: the webhooks (health, readiness and metrics are the service base's).

A webhook goes through, in this order: content type (415), body size (413), signature on the
raw bytes (401), parse (400/422; ids by `syncmodel.ids`, 422), the size of each change against
what every later stage may carry (413, `syncmodel.sizes`), then the durable publish (202 only
once acknowledged; 503 + Retry-After when the broker does not answer in time). A refused
request publishes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiohttp import web
from opentelemetry import trace
from pydantic import ValidationError

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.ingress import metrics
from incident_sync.ingress.errors import ApiError, json_response
from incident_sync.ingress.publisher import Publisher, PublishUnavailable, Record
from incident_sync.ingress.sides import Side, Sides
from incident_sync.runtime import tracing
from incident_sync.syncmodel import codec, ids, sizes, topics
from incident_sync.syncmodel.events import ChangeEvent

log = logging.getLogger("ingress")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RETRY_AFTER_S: Final = 5


def _is_json(content_type: str) -> bool:
    # aiohttp has already dropped parameters (charset) and lower-cased it.
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _records(events: Sequence[ChangeEvent], side: Side) -> list[Record]:
    return [
        (
            topics.record_key(e.tenant, e.integration_id, e.external_id),
            codec.encode(e),
            [
                ("origin", e.origin.value.encode()),
                ("delivery-id", e.delivery_id.encode()),
                ("integration-id", side.id_header),
            ],
        )
        for e in events
    ]


async def publish_events(publisher: Publisher, side: Side, events: Sequence[ChangeEvent]) -> None:
    """Publish and record metrics; ApiError(413) when a change could outgrow the message
    limit at a later stage (`syncmodel.sizes`), ApiError(503) when the broker does not
    acknowledge."""
    records = _records(events, side)
    max_message = publisher.settings.kafka_max_message_bytes
    limit = sizes.event_limit(max_message)
    for _, value, _ in records:
        if len(value) > limit:
            raise ApiError(
                413,
                "too_large",
                f"the change would be {len(value)} bytes on {topics.OBSERVATIONS}; at most {limit}"
                f" are accepted: a later stage's message carries up to {sizes.GROWTH} times"
                f" the change, and none may exceed KAFKA_MAX_MESSAGE_BYTES ({max_message})",
                outcome="too_large",
            )
    started = time.perf_counter()
    key = records[0][0] if len(records) == 1 else None
    try:
        with tracing.sending(publisher.topic, key, count=len(records)):
            if carried := tracing.kafka_headers():  # the send span, parent of the gate's
                for _, _, headers in records:
                    headers.extend(carried)
            await publisher.publish(records)
    except PublishUnavailable as exc:
        log.warning(
            "publish failed",
            extra={"integration": side.id, "events": len(events), "reason": str(exc)},
        )
        raise ApiError(
            503,
            "unavailable",
            f"events could not be stored, retry later: {exc}",
            outcome="unavailable",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
    if len(events) == 1:
        side.metrics.published(events[0].kind.value)
    else:
        for e in events:
            side.metrics.published(e.kind.value)


def _reject(side: Side, outcome: str, exc: ApiError) -> ApiError:
    log.info(
        "webhook refused",
        extra={
            "integration": side.id,
            "outcome": outcome,
            "status": exc.status,
            "reason": exc.reason,
        },
    )
    return exc


async def handle_webhook(
    request: web.Request, side: Side, publisher: Publisher, max_body: int
) -> web.Response:
    counts = side.metrics.received
    try:
        with tracing.timed("ingress"):  # its span is the request's (`runtime.httpspans`)
            tracing.set_attributes(
                trace.get_current_span(),
                stage="ingress",
                integration_id=side.id,
                integration_type=side.config.type,
                direction=tracing.direction(side.is_platform),
            )
            response = await _webhook(request, side, publisher, max_body)
    except ApiError as exc:
        outcome = exc.outcome or "invalid"
        counts[outcome].inc()
        if outcome != "unavailable":
            _reject(side, outcome, exc)
        raise
    counts["accepted" if response.status == 202 else "ignored"].inc()
    return response


async def _webhook(
    request: web.Request, side: Side, publisher: Publisher, max_body: int
) -> web.Response:
    if not _is_json(request.content_type):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, not {request.content_type!r}",
            outcome="unsupported_media",
        )
    length = request.content_length
    if length is not None and length > max_body:
        raise _too_large(max_body)
    try:
        body = await request.read()  # bounded by the app's client_max_size (= max_body)
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(max_body) from None
    if len(body) > max_body:
        raise _too_large(max_body)

    headers = request.headers
    connector = side.connector
    if not isinstance(connector, WebhookSource):  # a notifier: nothing can be verified
        raise ApiError(
            401,
            "unauthorized",
            f"integration {side.id} takes no webhooks: its tool ({side.config.type}) sends "
            "none (an outbound-only notifier)",
            outcome="unauthorized",
        )
    try:
        connector.verify(headers, body)
    except WebhookRejected as exc:
        raise ApiError(401, "unauthorized", exc.reason, outcome="unauthorized") from None
    except (ValueError, TypeError, UnicodeError) as exc:  # odd headers: fail closed, say 401
        log.warning("signature check raised %s", type(exc).__name__, extra={"integration": side.id})
        raise ApiError(
            401, "unauthorized", "the signature could not be checked", outcome="unauthorized"
        ) from None

    if not side.accepts_webhooks:
        return json_response(
            {"status": "ignored", "reason": f"integration {side.id} is outbound-only"}
        )
    try:
        events = connector.parse(headers, body)
    except WebhookRejected as exc:
        status = exc.status if exc.status in (400, 422) else 400
        code = "invalid" if status == 422 else "bad_request"
        raise ApiError(status, code, exc.reason, outcome="invalid") from None
    except ValidationError as exc:
        raise ApiError(
            422,
            "invalid",
            f"payload does not validate ({exc.error_count()} errors)",
            outcome="invalid",
        ) from None
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"malformed payload: {exc}", outcome="invalid") from None

    if not events:
        return json_response({"status": "ignored", "reason": "this event type is not synced"})
    _check_ids(events)
    tracing.set_attributes(
        trace.get_current_span(),
        external_id=events[0].external_id,
        incident_id=events[0].external_id if side.is_platform else None,
    )
    await publish_events(publisher, side, events)
    return json_response({"status": "accepted", "events": len(events)}, status=202)


def _check_ids(events: Sequence[ChangeEvent]) -> None:
    """The id rule (`syncmodel.ids`) once more over what any parser made: the parsers refuse
    naming the tool's own field; this names ours, should one of them let an id through."""
    for event in events:
        found = (
            ("external_id", event.external_id),
            ("platform_incident_id", event.platform_incident_id),
            ("comment_id", event.comment.comment_id if event.comment is not None else None),
        )
        for where, value in found:
            if value is not None and (problem := ids.problem(value)) is not None:
                raise ApiError(422, "invalid", f"{where}: {problem}", outcome="invalid")


def _too_large(max_body: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"request body exceeds {max_body} bytes",
        outcome="too_large",
        close=True,  # do not keep reading a body we refused
    )


def webhook_handler(side: Side, publisher: Publisher, max_body: int) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await handle_webhook(request, side, publisher, max_body)

    return handler


def platform_handler(sides: Sides, publisher: Publisher, max_body: int) -> Handler:
    """The platform's webhooks; the side is looked up per request (the config may reload)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await handle_webhook(request, sides.platform, publisher, max_body)

    return handler


def side_by_id_handler(sides: Sides, publisher: Publisher, max_body: int) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        integration_id = request.match_info["integration_id"]
        side = sides.get(integration_id)
        if side is None:
            raise ApiError(404, "not_found", f"no integration {integration_id!r} is configured")
        return await handle_webhook(request, side, publisher, max_body)

    return handler


def servicenow_handler(sides: Sides, publisher: Publisher, max_body: int) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        side = sides.servicenow
        if side is None:
            raise ApiError(404, "not_found", sides.servicenow_missing)
        return await handle_webhook(request, side, publisher, max_body)

    return handler
