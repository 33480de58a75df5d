"""Shared helpers for the PagerDuty connector tests."""

from __future__ import annotations

from typing import Any

import orjson

from incident_sync.syncmodel.config import IntegrationConfig
from tests.vendorfiles import samples

SAMPLES = samples("pagerduty")
SECRET = "pd-webhook-secret"
TOKEN, FROM = "sandbox-pd-token", "incident-sync@example.com"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return data


def config(
    base_url: str = "https://api.pagerduty.com", secret: str = SECRET, **options: str
) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "prod-pd",
            "type": "pagerduty",
            "tenant": "acme",
            "base_url": base_url,
            "username": FROM,
            "api_key": TOKEN,
            "webhook_secret": secret,
            "options": {"service_id": "PSVC001", **options},
        }
    )
