"""Shared helpers for the incident.io connector tests: the vendor's sample payloads, the Svix
webhook secret, and integration config and header builders."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.stub_server import Reply
from tests.vendorfiles import samples

SAMPLES = samples("incidentio")

SECRET = "whsec_" + base64.b64encode(b"incident-sync-test-key").decode()
INCIDENT_ID = "01FDAG4SAP5TYPT98WGR2N7W91"

# What the incident.io API answers for a record (or route) that does not exist.
NOT_FOUND: Reply = (404, {"type": "not_found", "status": 404, "errors": []})


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return data


def config(base_url: str = "https://api.incident.io", **options: str) -> IntegrationConfig:
    return IntegrationConfig.model_validate(
        {
            "id": "platform",
            "type": "incidentio",
            "tenant": "acme",
            "base_url": base_url,
            "api_key": "key-123",
            "webhook_secret": SECRET,
            "options": options,
        }
    )


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers(values)
