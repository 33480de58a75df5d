"""`build_app(config)`: the Jira Cloud stand-in as an aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from incident_sync.sandbox.faults import ApiFaults, fault_middleware
from incident_sync.sandbox.jira import api, control, properties
from incident_sync.sandbox.jira.state import STATE, JiraConfig, State, users
from incident_sync.sandbox.jira.store import JiraStore
from incident_sync.sandbox.webhook_sender import SenderConfig, WebhookSender, release_after_response


def build_app(config: JiraConfig | None = None) -> web.Application:
    config = config or JiraConfig()
    sender = WebhookSender(SenderConfig(url=config.webhook_url, backoff_s=config.webhook_backoff_s))
    state = State(config, JiraStore(config.project_key, users(config)), sender, ApiFaults())
    faults = fault_middleware(lambda r: r.app[STATE].faults, ("/rest/",), api.error_for_status)
    app = web.Application(middlewares=[release_after_response, faults, api.authenticate])
    app[STATE] = state
    app.add_routes(api.routes)
    app.add_routes(properties.routes)
    app.add_routes(control.routes)

    async def sender_lifecycle(_: web.Application) -> AsyncIterator[None]:
        await sender.start()
        yield
        await sender.stop()

    app.cleanup_ctx.append(sender_lifecycle)
    return app
