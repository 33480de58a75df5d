"""Shared helpers for the Jira connector tests: samples, config, a sandbox-backed connector."""

from __future__ import annotations

from typing import Any

import orjson

from incident_sync.syncmodel.config import IntegrationConfig
from tests.vendorfiles import samples

SAMPLES = samples("jira")
SECRET = "jira-webhook-shared-secret-of-the-tests"  # >= 32 bytes, as HS256 wants
API_EMAIL, API_TOKEN = "incident-sync@example.com", "sandbox-token"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return data


def config(base_url: str = "https://acme.atlassian.net", **options: str) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "prod-jira",
            "type": "jira",
            "tenant": "acme",
            "base_url": base_url,
            "username": API_EMAIL,
            "api_key": API_TOKEN,
            "webhook_secret": SECRET,
            "options": {"project_key": "OPS", **options},
        }
    )
