"""Shared helpers for the Jira connector tests: samples, config, a sandbox-backed connector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from syncmodel.config import IntegrationConfig

REPO = Path(__file__).resolve().parents[4]
SAMPLES = REPO.parent / "shared" / "protocols" / "jira" / "samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"vendor samples not found at {SAMPLES} (../shared beside repo)"
)
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
