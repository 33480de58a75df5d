"""The incident.io side: the platform incident-sync keeps other tools in line with.

Options (`IntegrationConfig.options`):
- `comment_custom_field` (default "External work notes"): the text custom field that receives
  `comment` (the latest note from another tool). incident.io's public API has no endpoint to
  post an incident update, so a custom field, set in the same `actions/edit` call as the other
  fields, is where those notes go; the field must exist and be of type text.
- `priority_custom_field` (default "Priority"): the single-select (or text) custom field that
  holds the canonical priority (P1..P5); "" switches priority sync off. The incident lead role
  holds the assignee (by e-mail address).
- `visibility` (default "public") and `create_mode` (e.g. "standard", "retrospective"; unset
  leaves incident.io's default) for the rare incident created from another tool.
Edits never notify the incident's Slack channel (`notify_incident_channel: false`): a sync
echo must not page people.
Limits: the API reference gives no maximum for an incident's name, summary or a text custom
field, so nothing is cut here (`LIMITS` is empty).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

import httpx

from incident_sync.connectors.base import (
    RecordNotFound,
    RecordState,
    ToolError,
    WebhookRejected,
    Written,
    stored_values,
)
from incident_sync.connectors.capabilities import ChangeFeed, FieldCatalogue, WebhookSource
from incident_sync.connectors.http import ToolConnector, bearer
from incident_sync.connectors.incidentio import catalogue, signature
from incident_sync.connectors.incidentio.client import MAX_PAGE_SIZE, IncidentIoClient
from incident_sync.connectors.incidentio.edit import edit_body
from incident_sync.connectors.incidentio.fields import canonical_fields, parse_timestamp
from incident_sync.connectors.incidentio.options import IncidentIoOptions
from incident_sync.connectors.incidentio.webhook import parse_webhook
from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.events import ChangeEvent

IDEMPOTENCY_PREFIX = "incident-sync:"


class IncidentIoConnector(
    ToolConnector[IncidentIoClient], WebhookSource, ChangeFeed, FieldCatalogue
):
    list_page_size: int = MAX_PAGE_SIZE  # incidents per page of the list endpoint

    # -- webhooks --------------------------------------------------------------------------
    @cached_property
    def _signing_key(self) -> bytes:
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookRejected(401, f"{self.config.id}: no webhook secret configured")
        try:
            return signature.decode_secret(secret.get_secret_value())
        except ValueError as exc:
            raise WebhookRejected(401, f"{self.config.id}: {exc}") from None

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        signature.verify(headers, body, self._signing_key, now=now)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        return parse_webhook(
            headers,
            body,
            integration_id=self.config.id,
            tenant=self.config.tenant,
            priority_field=self._priority_field,
            comment_field=self._comment_field,
        )

    # -- API -------------------------------------------------------------------------------
    client_class = IncidentIoClient

    def _auth(self) -> httpx.Auth:
        return bearer(*self._required("api_key is", self.config.api_key))

    @cached_property
    def options(self) -> IncidentIoOptions:
        return IncidentIoOptions.of(self.config)

    @property
    def _priority_field(self) -> str | None:
        return self.options.priority_custom_field or None

    @property
    def _comment_field(self) -> str:
        return self.options.comment_custom_field

    async def test_connection(self) -> None:
        await self.client.severities(refresh=True)

    async def fields(self) -> list[ToolField]:
        """The incident's built-in fields and the organisation's custom fields, read now
        (`incidentio.catalogue`)."""
        return await catalogue.read_fields(
            self.client, priority_field=self._priority_field, comment_field=self._comment_field
        )

    async def fetch(self, external_id: str) -> RecordState:
        return self._record(await self.client.show_incident(external_id))

    async def fetch_many(
        self, external_ids: Sequence[str], *, comments: bool = True
    ) -> dict[str, RecordState]:
        """The list endpoint (250 a page) when listing every incident takes fewer requests
        than reading the wanted ones; one `show` each otherwise, and for any not listed (the
        list leaves test and tutorial incidents out)."""
        wanted = list(dict.fromkeys(external_ids))
        if not wanted:
            return {}
        out: dict[str, RecordState] = {}
        size = self.list_page_size
        page = await self.client.list_page(page_size=size)
        pages = math.ceil((page.total or 0) / size)
        if page.total is not None and pages <= len(wanted):
            keep = set(wanted)
            while True:
                for incident in page.incidents:
                    if incident.get("id") in keep:
                        out[str(incident["id"])] = self._record(incident)
                if not page.after or not page.incidents:
                    break
                page = await self.client.list_page(page_size=size, after=page.after)
        rest = [i for i in wanted if i not in out]
        if rest:
            out.update(await super().fetch_many(rest, comments=comments))
        return out

    async def changed_since(self, since: datetime) -> list[RecordState]:
        """`updated_at[gte]` takes a date: list that day on, keep what changed since."""
        filters = {"updated_at[gte]": since.date().isoformat()}
        out = []
        pages = self.client.list_incidents(page_size=self.list_page_size, filters=filters)
        async for incident in pages:
            updated = parse_timestamp(incident.get("updated_at"))
            if updated is None or updated >= since:
                out.append(self._record(incident))
        return out

    async def recent(self, since: datetime) -> list[RecordState]:
        """The platform's incidents are each its own record: those changed since then."""
        return await self.changed_since(since)

    async def find_linked(self, platform_incident_id: str) -> str | None:
        # The platform incident is its own record: linked means "still exists".
        try:
            incident = await self.client.show_incident(platform_incident_id)
        except RecordNotFound:
            return None
        return str(incident["id"])

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        body = await edit_body(
            self.client,
            await self.fit(fields),
            comment_field=self._comment_field,
            priority_field=self._priority_field,
        )
        mode = self.options.create_mode
        incident = await self.client.create_incident(
            # The key makes a retried create return the first incident, not a second one.
            idempotency_key=IDEMPOTENCY_PREFIX + platform_incident_id,
            visibility=self.options.visibility,
            mode=mode,
            **body,
        )
        return self._record(incident)

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """One `actions/edit` call; its answer is the incident after it: `updated_at` and
        the values stored."""
        fields = await self.fit(fields)
        body = await edit_body(
            self.client,
            fields,
            comment_field=self._comment_field,
            priority_field=self._priority_field,
        )
        if not body:
            return Written()
        record = self._record(await self.client.edit_incident(external_id, body, notify=False))
        return Written(record.version, stored_values(fields, record.fields))

    def _record(self, incident: Mapping[str, Any]) -> RecordState:
        fields = canonical_fields(
            incident, priority_field=self._priority_field, comment_field=self._comment_field
        )
        return _record(incident, fields)


def _record(incident: Mapping[str, Any], fields: dict[str, str | None]) -> RecordState:
    incident_id = incident.get("id")
    if not isinstance(incident_id, str):
        raise ToolError("incident.io returned an incident without an id", retryable=False)
    reference = incident.get("reference")
    updated_at = incident.get("updated_at")
    return RecordState(
        external_id=incident_id,
        fields=fields,
        reference=reference if isinstance(reference, str) else None,
        version=updated_at if isinstance(updated_at, str) else None,
        platform_incident_id=incident_id,
        updated_at=parse_timestamp(updated_at),
        created_at=parse_timestamp(incident.get("created_at")),
        url=permalink if isinstance(permalink := incident.get("permalink"), str) else None,
    )
