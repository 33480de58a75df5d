"""The Echo tool's connector: records by REST, webhooks signed with HMAC-SHA256.

Options (`EchoOptions`): `label` (default "incident-sync"): the tag a create puts on its
record (a plugin's options are typed and validated like the built-in ones').
`api_key` is the integration user's bearer token; `actor` that user's name, so its own
changes come back as echoes; `webhook_secret` signs the tool's webhooks.
"""

from __future__ import annotations

import hmac
from collections.abc import Generator, Mapping
from functools import cached_property
from typing import Any

import httpx
import orjson
from pydantic import Field

from incident_sync.connectors.base import (
    Connector,
    RecordNotFound,
    RecordState,
    WebhookRejected,
    Written,
    stored_values,
)
from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.connectors.options import ConnectorOptions
from incident_sync.connectors.transport import bound_auth, json_object, send
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange
from incident_sync_echo.wire import DELIVERY, FIELDS, SIGNATURE, sign


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class EchoOptions(ConnectorOptions):
    label: str = Field("incident-sync", pattern="^[a-z-]{1,40}$", description="creates' tag")


class EchoConnector(Connector, WebhookSource):
    @cached_property
    def options(self) -> EchoOptions:
        return EchoOptions.of(self.config)

    # -- webhooks --------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookRejected(401, f"{self.config.id}: no webhook secret configured")
        given = headers.get(SIGNATURE) or ""
        if not hmac.compare_digest(given, sign(secret.get_secret_value(), body)):
            raise WebhookRejected(401, f"{self.config.id}: bad {SIGNATURE}")

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        try:
            doc = orjson.loads(body)
            record, changed = doc["record"], doc["changed"]
            kind = {"record.created": ChangeKind.CREATED, "record.updated": ChangeKind.UPDATED}
            event_kind = kind[doc["event"]]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise WebhookRejected(400, f"not an Echo webhook: {type(exc).__name__}") from None
        if not isinstance(changed, dict) or not isinstance(record, dict):
            raise WebhookRejected(422, "record and changed must be objects")
        changes = {
            f: FieldChange(old=c.get("old"), new=c.get("new"))
            for f, c in changed.items()
            if f in FIELDS and isinstance(c, dict)
        }
        return [
            ChangeEvent(
                delivery_id=str(headers.get(DELIVERY) or ""),
                tenant=self.config.tenant,
                integration_id=self.config.id,
                external_id=str(record.get("id")),
                kind=event_kind,
                changes=changes,
                platform_incident_id=record.get("incident_id"),
                version=_version(record),
                actor=doc.get("actor"),
            )
        ]

    # -- API -------------------------------------------------------------------------------
    def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.timeout_s)

    @cached_property
    def _auth(self) -> httpx.Auth:
        # The project's plumbing: the token goes to the integration's origin only.
        token = self.config.api_key.get_secret_value() if self.config.api_key else ""
        return bound_auth(BearerAuth(token), self.config.base_url)

    async def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> Any:
        response = await send(
            self.http,
            method,
            self.config.base_url.rstrip("/") + path,
            error_message=lambda r: f"Echo: {r.status_code} {r.text[:200]}",
            auth=self._auth,
            params=params,
            json=json,
        )
        return json_object(response)

    def _state(self, record: Mapping[str, Any]) -> RecordState:
        return RecordState(
            external_id=str(record["id"]),
            fields={f: record.get(f) for f in FIELDS},
            version=_version(record),
            platform_incident_id=record.get("incident_id"),
        )

    async def test_connection(self) -> None:
        await self._call("GET", "/api/records", params={"incident_id": "-"})

    async def fetch(self, external_id: str) -> RecordState:
        try:
            return self._state(await self._call("GET", f"/api/records/{external_id}"))
        except RecordNotFound:
            raise RecordNotFound(f"Echo has no record {external_id}") from None

    async def find_linked(self, platform_incident_id: str) -> str | None:
        found = await self._call(
            "GET", "/api/records", params={"incident_id": platform_incident_id}
        )
        records = found.get("records") or []
        return str(records[0]["id"]) if records else None

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        body = {f: v for f, v in (await self.fit(fields)).items() if f in FIELDS}
        record = await self._call(
            "POST",
            "/api/records",
            json={**body, "incident_id": platform_incident_id, "label": self.options.label},
        )
        return self._state(record)

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        body = {f: v for f, v in (await self.fit(fields)).items() if f in FIELDS}
        if not body:
            return Written()
        record = await self._call("PATCH", f"/api/records/{external_id}", json=body)
        return Written(_version(record), stored_values(body, self._state(record).fields))


def _version(record: Mapping[str, Any]) -> str | None:
    version = record.get("version")
    return f"{version:012d}" if isinstance(version, int) else None
