"""`build_app(config)`: the ServiceNow stand-in as an aiohttp application."""

from __future__ import annotations

from aiohttp import web

from incident_sync.sandbox.base import sandbox_app
from incident_sync.sandbox.faults import with_api_faults
from incident_sync.sandbox.servicenow import api, control
from incident_sync.sandbox.servicenow.auth import Auth
from incident_sync.sandbox.servicenow.state import STATE, ServiceNowConfig, State
from incident_sync.sandbox.servicenow.store import Customizations, TableStore
from incident_sync.sandbox.webhook_sender import SenderConfig, WebhookSender


def build_app(config: ServiceNowConfig | None = None) -> web.Application:
    config = config or ServiceNowConfig()
    sender = WebhookSender(SenderConfig(url=config.webhook_url, backoff_s=config.webhook_backoff_s))
    auth = Auth(
        users=dict(config.users),
        clients=dict(config.oauth_clients),
        token_ttl_s=config.token_ttl_s,
        rate_limit_per_hour=config.rate_limit_per_hour,
    )
    custom = Customizations(
        dict(config.max_lengths), set(config.collapse_spaces), set(config.mandatory)
    )
    state = State(config, TableStore(config.require_close_fields, custom), sender, auth)
    # ServiceNow's REST API takes request bodies up to glide.rest.max_content_length (10 MB by
    # default), not aiohttp's 1 MiB.
    app = sandbox_app(
        STATE,
        state,
        sender=sender,
        middlewares=[api.authenticate],
        routes=[api.routes, control.routes],
        client_max_size=10 * 1024 * 1024,
    )
    with_api_faults(app, api.API_PREFIXES, api.error_for_status)
    return app
