"""Configuration and the per-app state the handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from incident_sync.sandbox.incidentio.store import IncidentStore
from incident_sync.sandbox.webhook_sender import DEFAULT_BACKOFF_S, WebhookSender

# A fixed, valid example secret so a bare `python -m incident_sync.sandbox.incidentio` just works.
DEFAULT_SIGNING_SECRET = "whsec_c2FuZGJveC1pbmNpZGVudGlvLXNpZ25pbmcta2V5"  # noqa: S105


@dataclass(frozen=True)
class IncidentioConfig:
    api_key: str = "sandbox-api-key"
    signing_secret: str = DEFAULT_SIGNING_SECRET
    webhook_url: str = ""
    webhook_backoff_s: tuple[float, ...] = field(default=DEFAULT_BACKOFF_S)
    api_key_name: str = "incident-sync"


@dataclass
class State:
    config: IncidentioConfig
    store: IncidentStore
    sender: WebhookSender
    api_key_id: str


STATE = web.AppKey("incidentio_state", State)
