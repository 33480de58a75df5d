"""Deliveries of the Datadog webhook that incident-sync documents (docs/datadog-setup.md).

Datadog webhooks carry a payload the customer templates, and sign nothing: the integration's
webhook is authenticated by a shared secret in a custom header (`X-Incident-Sync-Token` by
default, option `webhook_header`). The template sends which incident changed:
    {"event_id": "$ID", "date_posix": "$DATE_POSIX", "incident_id": "<incident uuid>",
     "event_type": "$EVENT_TYPE"}
and the pipeline re-reads the incident through the API (kind refresh): the notification text
is customer-written, the API's incident is not.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.jsonshape import body_object, record_id
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind

DEFAULT_HEADER: Final = "X-Incident-Sync-Token"


def verify(headers: Mapping[str, str], secret: str, header: str = DEFAULT_HEADER) -> None:
    value = headers.get(header)
    if not value:
        raise WebhookRejected(401, f"missing {header} header")
    if not hmac.compare_digest(value.encode("utf-8", "replace"), secret.encode("utf-8")):
        raise WebhookRejected(401, f"{header} does not match the shared secret")


def parse_webhook(body: bytes, *, integration_id: str, tenant: str) -> list[ChangeEvent]:
    data = body_object(body)
    incident_id = data.get("incident_id")
    if incident_id in (None, ""):
        # A monitor alert sent to the same webhook: not an incident, nothing to sync.
        return []
    incident_id = record_id(incident_id, "incident_id")
    event_id = data.get("event_id")
    delivery_id = (
        "dd:" + record_id(event_id, "event_id")
        if event_id not in (None, "")
        else "sha256:" + hashlib.sha256(body).hexdigest()
    )
    extra: dict[str, Any] = {}
    if (moment := _posix(data.get("date_posix"))) is not None:
        extra["source_ts"] = moment
    return [
        ChangeEvent(
            delivery_id=delivery_id,
            tenant=tenant,
            integration_id=integration_id,
            external_id=incident_id,
            kind=ChangeKind.REFRESH,
            **extra,
        )
    ]


def _posix(value: object) -> datetime | None:
    try:
        seconds = float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None
    if seconds is None or not seconds > 0:  # NaN is not > 0
        return None
    try:
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)
    except (OverflowError, OSError, ValueError):  # beyond the platform's time range
        return None
