"""`build_app(config)`: the incident.io stand-in as an aiohttp application."""

from __future__ import annotations

from aiohttp import web

from incident_sync.sandbox.base import sandbox_app
from incident_sync.sandbox.faults import with_api_faults
from incident_sync.sandbox.ids import ulid
from incident_sync.sandbox.incidentio import api, control
from incident_sync.sandbox.incidentio.catalog import Catalog
from incident_sync.sandbox.incidentio.state import STATE, IncidentioConfig, State
from incident_sync.sandbox.incidentio.store import IncidentStore
from incident_sync.sandbox.webhook_sender import SenderConfig, WebhookSender


def build_app(config: IncidentioConfig | None = None) -> web.Application:
    config = config or IncidentioConfig()
    sender = WebhookSender(SenderConfig(url=config.webhook_url, backoff_s=config.webhook_backoff_s))
    state = State(config, IncidentStore(Catalog.seed()), sender, api_key_id=ulid())
    app = sandbox_app(
        STATE,
        state,
        sender=sender,
        middlewares=[api.require_api_key],
        routes=[api.routes, control.routes],
    )
    with_api_faults(app, ("/v1/", "/v2/"), api.error_for_status)
    return app
