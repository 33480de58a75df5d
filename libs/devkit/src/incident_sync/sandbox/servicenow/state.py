"""Configuration and the per-app state the handlers share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aiohttp import web

from incident_sync.sandbox.servicenow.auth import Auth
from incident_sync.sandbox.servicenow.store import Actor, TableStore
from incident_sync.sandbox.webhook_sender import DEFAULT_BACKOFF_S, WebhookSender


def user_sys_id(user_name: str) -> str:
    """A stable 32-hex sys_id per user, so references survive restarts and resets."""
    return hashlib.sha256(f"sys_user:{user_name}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ServiceNowConfig:
    # user_name -> password; the first user is the integration user.
    users: dict[str, str] = field(
        default_factory=lambda: {"incident-sync": "secret", "john.smith": "password"}
    )
    # client_id -> (client_secret, user for client_credentials or "" = the first user)
    oauth_clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    token_ttl_s: int = 1799
    webhook_url: str = ""
    webhook_secret: str = "sandbox-webhook-secret"  # noqa: S105 - a local stand-in's default
    webhook_backoff_s: tuple[float, ...] = DEFAULT_BACKOFF_S
    rate_limit_per_hour: int | None = None  # None = no rate-limit rule matches
    require_close_fields: bool = False  # the "close code/notes mandatory" data policy
    # The administrators' changes: "table.column" -> max_length, columns whose runs of spaces
    # a business rule collapses, "table.column" the dictionary makes mandatory
    # (`store.Customizations`).
    max_lengths: dict[str, int] = field(default_factory=dict)
    collapse_spaces: tuple[str, ...] = ()
    mandatory: tuple[str, ...] = ()
    human_user: str = "john.smith"  # the default actor of /_sandbox edits


@dataclass
class State:
    config: ServiceNowConfig
    store: TableStore
    sender: WebhookSender
    auth: Auth

    def actor(self, user_name: str) -> Actor:
        return Actor(user_name, user_sys_id(user_name))


STATE = web.AppKey("servicenow_state", State)
