"""`build_app(config)`: the Jira Cloud stand-in as an aiohttp application."""

from __future__ import annotations

from aiohttp import web

from incident_sync.sandbox.base import sandbox_app
from incident_sync.sandbox.faults import ApiFaults, fault_middleware
from incident_sync.sandbox.jira import api, control, fieldmeta, properties
from incident_sync.sandbox.jira.state import STATE, JiraConfig, State, users
from incident_sync.sandbox.jira.store import JiraStore
from incident_sync.sandbox.webhook_sender import SenderConfig, WebhookSender


def build_app(config: JiraConfig | None = None) -> web.Application:
    config = config or JiraConfig()
    sender = WebhookSender(SenderConfig(url=config.webhook_url, backoff_s=config.webhook_backoff_s))
    state = State(config, JiraStore(config.project_key, users(config)), sender, ApiFaults())
    faults = fault_middleware(lambda r: r.app[STATE].faults, ("/rest/",), api.error_for_status)
    return sandbox_app(
        STATE,
        state,
        sender=sender,
        middlewares=[faults, api.authenticate],
        routes=[api.routes, fieldmeta.routes, properties.routes, control.routes],
    )
