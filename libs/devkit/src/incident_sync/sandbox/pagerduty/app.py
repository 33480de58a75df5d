"""`build_app(config)`: the PagerDuty stand-in as an aiohttp application."""

from __future__ import annotations

from aiohttp import web

from incident_sync.sandbox.base import sandbox_app
from incident_sync.sandbox.faults import ApiFaults, fault_middleware
from incident_sync.sandbox.pagerduty import api, control, customfields, fieldvalues
from incident_sync.sandbox.pagerduty.state import STATE, PagerDutyConfig, State, new_store
from incident_sync.sandbox.webhook_sender import SenderConfig, WebhookSender


def build_app(config: PagerDutyConfig | None = None) -> web.Application:
    config = config or PagerDutyConfig()
    sender = WebhookSender(SenderConfig(url=config.webhook_url, backoff_s=config.webhook_backoff_s))
    state = State(config, new_store(config), sender, ApiFaults())
    faults = fault_middleware(lambda r: r.app[STATE].faults, api.API_PREFIXES, api.error_for_status)
    return sandbox_app(
        STATE,
        state,
        sender=sender,
        middlewares=[faults, api.authenticate],
        # before `api.routes`, whose `/incidents/{id}` would take `/incidents/custom_fields`
        routes=[customfields.routes, fieldvalues.routes, api.routes, control.routes],
    )
