"""Configuration and the per-app state the handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from incident_sync.sandbox.faults import ApiFaults
from incident_sync.sandbox.pagerduty.store import PagerDutyStore, User, user_id
from incident_sync.sandbox.webhook_sender import DEFAULT_BACKOFF_S, WebhookSender

DIRECTORY: tuple[tuple[str, str], ...] = (
    ("alice@example.com", "Alice Agent"),
    ("bob@example.com", "Bob Builder"),
    ("carol@example.com", "Carol Oncall"),
)
ONCALL = "carol@example.com"


@dataclass(frozen=True)
class PagerDutyConfig:
    api_token: str = "sandbox-pd-token"  # noqa: S105 - a sandbox default
    # The user whose e-mail the integration sends as `From`.
    api_user: str = "incident-sync@example.com"
    webhook_url: str = ""
    webhook_secret: str = "sandbox-pd-webhook-secret"  # noqa: S105 - a sandbox default
    webhook_backoff_s: tuple[float, ...] = field(default=DEFAULT_BACKOFF_S)
    human: str = "alice@example.com"  # who acts through /_sandbox


@dataclass
class State:
    config: PagerDutyConfig
    store: PagerDutyStore
    sender: WebhookSender
    faults: ApiFaults


def new_store(config: PagerDutyConfig) -> PagerDutyStore:
    people = [(config.api_user, "incident-sync"), *DIRECTORY]
    users = [User(user_id(email), name, email) for email, name in people]
    return PagerDutyStore(users, oncall=user_id(ONCALL))


STATE = web.AppKey("pagerduty_state", State)
