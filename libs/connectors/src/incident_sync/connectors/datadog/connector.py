"""The Datadog side: incidents through the v2 API, linked by a textbox field.

Options (`IntegrationConfig.options`):
- `correlation_field` (default `incident_sync_id`): a textbox incident field (create it in
  Incident Settings > Property Fields) holding the platform incident id; creates set it and
  `find_linked` searches it;
- `ref_field` (default `incident_sync_ref`): a second textbox field into which a create writes
  the incident's own UUID. Datadog's notification variables expose the public id and the
  property fields (`{{incident.<field>}}`), not the UUID the API needs, so the webhook
  template sends this field (see docs/datadog-setup.md);
- `severity_map` ("SEV-1=critical,SEV-2=major,..."): Datadog severities <-> canonical;
- `webhook_header` (default `X-Incident-Sync-Token`): the custom header carrying
  `webhook_secret` on the notification webhook (see docs/datadog-setup.md).
`api_key` is the DD-API-KEY, `password` the DD-APPLICATION-KEY; `base_url` the site's API
host (https://api.datadoghq.eu, ...).
Limits: the incidents API reference gives no maximum for a title or a textbox field, so
nothing is cut here (`LIMITS` is empty).
Declared field maps are written as `attributes.fields.<name>` and read from every incident
read (`connectors.datadog.values`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import httpx

from incident_sync.connectors.base import (
    RecordState,
    ToolError,
    WebhookRejected,
    Written,
    stored_values,
    value_forms,
)
from incident_sync.connectors.canonical import DESCRIPTION, SEVERITY, STATUS, TITLE
from incident_sync.connectors.capabilities import ChangeFeed, FieldCatalogue, WebhookSource
from incident_sync.connectors.datadog import catalogue, webhook
from incident_sync.connectors.datadog.client import DatadogClient
from incident_sync.connectors.datadog.client import auth as client_auth
from incident_sync.connectors.datadog.fields import (
    STATE_OUT,
    DatadogFieldMap,
    version_of,
)
from incident_sync.connectors.datadog.options import DatadogOptions
from incident_sync.connectors.datadog.values import NotWritable, forms_of, native_values, to_dd
from incident_sync.connectors.http import ToolConnector
from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.events import ChangeEvent

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


class DatadogConnector(ToolConnector[DatadogClient], WebhookSource, ChangeFeed, FieldCatalogue):
    # The account's field definitions by name, read once per connector for declared maps.
    _definitions: dict[str, Mapping[str, Any]] | None = None

    @cached_property
    def options(self) -> DatadogOptions:
        return DatadogOptions.of(self.config)

    @cached_property
    def field_map(self) -> DatadogFieldMap:
        return DatadogFieldMap.from_options(self.options)

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookRejected(401, f"{self.config.id}: no webhook secret configured")
        header = self.options.webhook_header
        webhook.verify(headers, secret.get_secret_value(), header)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        return webhook.parse_webhook(body, integration_id=self.config.id, tenant=self.config.tenant)

    client_class = DatadogClient

    def _auth(self) -> httpx.Auth:
        cfg = self.config
        what = "api_key (DD-API-KEY) and password (DD-APPLICATION-KEY) are"
        return client_auth(*self._required(what, cfg.api_key, cfg.password))

    async def test_connection(self) -> None:
        await self.client.search("state:active", page_size=1)

    async def fetch(self, external_id: str) -> RecordState:
        return self._record(await self.client.get_incident(external_id))

    async def _read_tool_values(
        self, external_id: str, names: frozenset[str]
    ) -> tuple[RecordState, dict[str, tuple[str, ...]]]:
        """The incident's fields by their definitions' names (`attributes.fields.<name>`:
        `severity` is `SEV-1`..., `state`, `teams`, a user-defined field; `values.forms_of`),
        else its other attributes (`title`, `customer_impacted`)."""
        incident = await self.client.get_incident(external_id)
        attributes = incident.get("attributes")
        attrs: Mapping[str, Any] = attributes if isinstance(attributes, dict) else {}
        shown = attrs.get("fields")
        fields: Mapping[str, Any] = shown if isinstance(shown, dict) else {}
        values = {
            n: value_forms(*(forms_of(fields[n]) if n in fields else (attrs[n],)))
            for n in names
            if n in fields or (n in attrs and n != "fields")
        }
        return self._record(incident), values

    async def fields(self) -> list[ToolField]:
        """The incident's title and its field definitions (`connectors.datadog.catalogue`)."""
        return catalogue.tool_fields(await self.client.user_defined_fields())

    async def changed_since(self, since: datetime) -> list[RecordState]:
        """The incidents list has no time filter: every linked incident modified since."""
        return [r for r in await self.recent(since) if r.platform_incident_id is not None]

    async def recent(self, since: datetime) -> list[RecordState]:
        """Every incident modified since then (made since then too), ours or not."""
        out = []
        async for incident in self.client.list_incidents():
            record = self._record(incident)
            if record.updated_at is None or record.updated_at >= since:
                out.append(record)
        return out

    async def find_linked(self, platform_incident_id: str) -> str | None:
        if not _SAFE_ID.match(platform_incident_id):
            raise ToolError(
                f"Datadog: refusing to search for {platform_incident_id!r}", retryable=False
            )
        query = f'{self.field_map.correlation_field}:"{platform_incident_id}"'
        for incident in await self.client.search(query):
            attributes = incident.get("attributes") or {}
            if self.field_map.platform_incident(attributes) == platform_incident_id:
                return str(incident["id"])
        return None

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        own, declared = self.split_declared(await self.fit(fields))
        attributes = await self._with_declared(self._attributes(own), declared)
        attributes.setdefault("title", f"Incident {platform_incident_id}")
        attributes["customer_impacted"] = False
        native = attributes.setdefault("fields", {})
        assert isinstance(native, dict)
        native[self.field_map.correlation_field] = {
            "type": "textbox",
            "value": platform_incident_id,
        }
        created = await self.client.create_incident(attributes)
        ref = {"type": "textbox", "value": str(created["id"])}
        ref_field = self.options.ref_field
        return self._record(
            await self.client.update_incident(created["id"], {"fields": {ref_field: ref}})
        )

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """One PATCH; its answer is the incident as stored."""
        fields = await self.fit(fields)
        own, declared = self.split_declared(fields)
        attributes = await self._with_declared(self._attributes(own), declared)
        if not attributes:
            return Written()
        record = self._record(await self.client.update_incident(external_id, attributes))
        return Written(record.version, stored_values(fields, record.fields))

    async def field_definitions(self) -> dict[str, Mapping[str, Any]]:
        """The account's incident field definitions (their attributes) by name, read once
        per connector."""
        if self._definitions is None:
            found: dict[str, Mapping[str, Any]] = {}
            for definition in await self.client.user_defined_fields():
                attributes = definition.get("attributes")
                if isinstance(attributes, dict) and not attributes.get("deleted"):
                    found[str(attributes.get("name"))] = attributes
            self._definitions = found
        return self._definitions

    async def _with_declared(
        self, attributes: dict[str, object], declared: Mapping[str, str | None]
    ) -> dict[str, object]:
        """`attributes` with the declared maps' `fields.<name>` values (`datadog.values`);
        a field the account lacks, one the link lives in, or one whose values have no
        documented shape is a non-retryable ToolError before anything is sent."""
        if not declared:
            return attributes
        definitions = await self.field_definitions()
        linking = {self.field_map.correlation_field, self.options.ref_field}
        native: dict[str, object] = {}
        for name, value in declared.items():
            definition = definitions.get(name)
            if definition is None or name in linking:
                why = "holds the link" if name in linking else "is not a field of the account"
                raise ToolError(f"Datadog: {name!r} {why}", retryable=False)
            try:
                native[name] = to_dd(definition, value)
            except NotWritable as exc:
                raise ToolError(f"Datadog: {exc}", retryable=False) from None
        existing = attributes.get("fields")
        own = existing if isinstance(existing, dict) else {}
        return {**attributes, "fields": {**native, **own}}

    def _attributes(self, fields: Mapping[str, str | None]) -> dict[str, object]:
        attributes: dict[str, object] = {}
        native: dict[str, object] = {}
        if (title := fields.get(TITLE)) is not None:
            attributes["title"] = title
        if DESCRIPTION in fields:
            native["summary"] = {"type": "textbox", "value": fields[DESCRIPTION]}
        if (status := fields.get(STATUS)) is not None:
            if status not in STATE_OUT:
                raise ToolError(f"Datadog: unknown canonical status {status!r}", retryable=False)
            native["state"] = {"type": "dropdown", "value": STATE_OUT[status]}
        if SEVERITY in fields:
            severity = fields[SEVERITY]
            value = self.field_map.severity_out(severity) if severity else "UNKNOWN"
            if value is None:
                raise ToolError(f"Datadog: no severity maps to {severity!r}", retryable=False)
            native["severity"] = {"type": "dropdown", "value": value}
        if native:
            attributes["fields"] = native
        return attributes

    def _record(self, incident: Mapping[str, Any]) -> RecordState:
        attributes = incident.get("attributes")
        attrs: Mapping[str, Any] = attributes if isinstance(attributes, dict) else {}
        public_id = attrs.get("public_id")
        return RecordState(
            external_id=str(incident.get("id")),
            fields=self.join_declared(
                self.field_map.canonical(attrs),
                native_values(attrs.get("fields"), self.declared_reads),
            ),
            reference=f"IR-{public_id}" if isinstance(public_id, int) else None,
            version=version_of(attrs.get("modified")),
            platform_incident_id=self.field_map.platform_incident(attrs),
            updated_at=_time(attrs.get("modified")),
            created_at=_time(attrs.get("created")),
        )


def _time(value: object) -> datetime | None:
    version = version_of(value)  # normalised to UTC, microseconds
    if version is None:
        return None
    return datetime.strptime(version, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
