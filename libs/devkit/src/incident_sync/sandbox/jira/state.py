"""Configuration and the per-app state the handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from incident_sync.sandbox.faults import ApiFaults
from incident_sync.sandbox.jira.store import JiraStore, User, account_id
from incident_sync.sandbox.webhook_sender import DEFAULT_BACKOFF_S, WebhookSender

# People who can be assigned or act in the UI, besides the API users.
DIRECTORY: tuple[tuple[str, str], ...] = (
    ("alice@example.com", "Alice Agent"),
    ("bob@example.com", "Bob Builder"),
    ("carol@example.com", "Carol Oncall"),
)


@dataclass(frozen=True)
class JiraConfig:
    # (e-mail, API token); the first is the integration's account
    api_users: tuple[tuple[str, str], ...] = (("incident-sync@example.com", "sandbox-token"),)
    project_key: str = "OPS"
    webhook_url: str = ""
    webhook_secret: str = ""  # empty: webhooks are sent unsigned
    webhook_backoff_s: tuple[float, ...] = field(default=DEFAULT_BACKOFF_S)
    human: str = "alice@example.com"  # who acts through /_sandbox


@dataclass
class State:
    config: JiraConfig
    store: JiraStore
    sender: WebhookSender
    faults: ApiFaults

    def user_for_token(self, email: str, token: str) -> str | None:
        for address, secret in self.config.api_users:
            if address == email and secret == token:
                return account_id(address)
        return None


def users(config: JiraConfig) -> list[User]:
    people = [(email, email.split("@")[0]) for email, _ in config.api_users] + list(DIRECTORY)
    return [User(email, name, account_id(email)) for email, name in dict(people).items()]


STATE = web.AppKey("jira_state", State)
