"""Shared helpers for the ServiceNow connector tests: the vendor's sample payloads, integration
config and field-mapping builders, and the Table API constants and replies."""

from __future__ import annotations

from typing import Any

import orjson

from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.mapping import Features, FieldMapping, MappingConfig
from tests.unit.connectors.stub_server import Reply
from tests.vendorfiles import samples

SAMPLES = samples("servicenow")

SECRET = "br-shared-secret"
SYS_ID = "a9e30c7dc61122760116894de7bcc7bd"

BASIC = "Basic aW5jaWRlbnQuc3luYzpwdw=="  # incident.sync:pw
INCIDENT = f"/api/now/table/incident/{SYS_ID}"
READ = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false"}

# What the Table API answers for a record (or route) that does not exist.
NOT_FOUND: Reply = (
    404,
    {"error": {"message": "No Record found", "detail": "gone"}, "status": "failure"},
)


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((SAMPLES / name).read_bytes())
    return data


# Given, so the stub needs no dictionary answer (the sandbox tests read the dictionary).
LENGTHS = "short_description=160,description=4000"


def config(base_url: str = "https://acme.service-now.com", **extra: Any) -> IntegrationConfig:
    extra["options"] = {"column_lengths": LENGTHS, **extra.get("options", {})}
    raw: dict[str, Any] = {
        "id": "prod-snow",
        "type": "servicenow",
        "tenant": "acme",
        "base_url": base_url,
        "username": "incident.sync",
        "password": "pw",
        "webhook_secret": SECRET,
    }
    raw.update(extra)
    return IntegrationConfig.model_validate(raw)


def mapping(**features: bool) -> FieldMapping:
    return FieldMapping(MappingConfig(features=Features(**features)))


def note_reply(text: str | None) -> Reply:
    return (200, {"result": [{"value": text}] if text is not None else []})
