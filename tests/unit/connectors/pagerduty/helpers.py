"""Shared helpers for the PagerDuty connector tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from syncmodel.config import IntegrationConfig

REPO = Path(__file__).resolve().parents[4]
SAMPLES = REPO.parent / "shared" / "protocols" / "pagerduty" / "samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"vendor samples not found at {SAMPLES} (../shared beside repo)"
)
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
