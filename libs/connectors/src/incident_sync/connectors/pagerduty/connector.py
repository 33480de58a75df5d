"""The PagerDuty side: incidents through REST v2, linked by `incident_key`.

Options (`IntegrationConfig.options`):
- `service_id` (required to create), `urgency` (default "high"): where creates go;
- `incident_key_prefix` (default "incident-sync-"): creates set `incident_key` to the prefix
  plus the platform incident id; `find_linked` lists incidents by that key;
- `priority_map` ("P1=P1,SEV-1=P1"): account priority names <-> canonical P1..P5 (names that
  already are P1..P5 need no entry);
- `reopen_status` (default "triggered"): the status a resolved incident is reopened to;
- `resolution`: the resolution note sent with a resolve.
`api_key` is a REST API token; `username` is the e-mail address sent as `From` (the user the
service acts as); `actor` is that user's id, so its own changes come back as echoes;
`webhook_secret` may hold several secrets separated by spaces while one is rotated.

Limits: a title holds 1,024 characters. The REST reference documents no maximum for it;
1,024 is the documented bound of an event's `summary`, which becomes the incident's title, so
titles are kept within it.
Declared field maps onto `custom_fields.<name>` are incident custom field values, set and
read through `/incidents/{id}/custom_fields/values` (`connectors.pagerduty.customvalues`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import httpx

from incident_sync.connectors.base import (
    RecordNotFound,
    RecordState,
    RequestNotSent,
    ToolError,
    WebhookRejected,
    Written,
    stored_values,
    value_forms,
)
from incident_sync.connectors.canonical import (
    ASSIGNEE,
    COMMENT,
    ESCALATION_POLICY,
    PRIORITY,
    STATUS,
    TITLE,
)
from incident_sync.connectors.capabilities import (
    ChangeFeed,
    CommentThread,
    FieldCatalogue,
    WebhookSource,
)
from incident_sync.connectors.http import ToolConnector
from incident_sync.connectors.pagerduty import catalogue, signature
from incident_sync.connectors.pagerduty.catalogue import CUSTOM_PREFIX
from incident_sync.connectors.pagerduty.client import PAGE_LIMIT, PagerDutyClient
from incident_sync.connectors.pagerduty.client import auth as client_auth
from incident_sync.connectors.pagerduty.customvalues import (
    NotWritable,
    field_name,
    native_values,
    to_pd,
)
from incident_sync.connectors.pagerduty.fields import (
    PagerDutyFieldMap,
    assignee_ids,
    parse_time,
    version_of,
)
from incident_sync.connectors.pagerduty.options import PagerDutyOptions
from incident_sync.connectors.pagerduty.webhook import parse_webhook
from incident_sync.syncmodel.declared import declared as declared_maps
from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.events import ChangeEvent
from incident_sync.syncmodel.fields import Status

TITLE_MAX = 1024


class PagerDutyConnector(
    ToolConnector[PagerDutyClient], WebhookSource, CommentThread, ChangeFeed, FieldCatalogue
):
    # Notes have ids; they can be added, never edited or deleted (`supports_comment_edits`).
    LIMITS = {TITLE: TITLE_MAX}
    # The account's incident custom fields by name, read once per connector for declared maps.
    _custom_fields: dict[str, Mapping[str, Any]] | None = None

    @cached_property
    def options(self) -> PagerDutyOptions:
        return PagerDutyOptions.of(self.config)

    @cached_property
    def field_map(self) -> PagerDutyFieldMap:
        return PagerDutyFieldMap.from_options(self.options)

    # -- webhooks --------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookRejected(401, f"{self.config.id}: no webhook secret configured")
        signature.verify(headers, body, secret.get_secret_value().split())

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        return parse_webhook(
            headers,
            body,
            fields=self.field_map,
            integration_id=self.config.id,
            tenant=self.config.tenant,
            declared=self._declared_inbound(),
        )

    def _declared_inbound(self) -> dict[str, str]:
        """Tool field -> platform field of the declared maps taken in."""
        maps = declared_maps(self.mapping)
        if maps is None:
            return {}
        return {m.tool: m.platform for m in maps.maps if m.direction.accepts_inbound}

    # -- API -------------------------------------------------------------------------------
    client_class = PagerDutyClient

    def _auth(self) -> httpx.Auth:
        cfg = self.config
        return client_auth(
            *self._required("api_key and username (the From e-mail) are", cfg.api_key, cfg.username)
        )

    async def test_connection(self) -> None:
        await self.client.abilities()

    async def fields(self) -> list[ToolField]:
        """The built-in fields the connector syncs and the incident custom fields
        (`connectors.pagerduty.catalogue`)."""
        priorities = await self.client.priority_names()
        custom = await self.client.custom_fields()
        return catalogue.tool_fields(priorities, custom, title_max=TITLE_MAX)

    async def fetch(self, external_id: str) -> RecordState:
        return await self._read(await self.client.get_incident(external_id), comments=True)

    async def _read_tool_values(
        self, external_id: str, names: frozenset[str]
    ) -> tuple[RecordState, dict[str, tuple[str, ...]]]:
        """The incident's own fields by their REST names (`urgency`, `service`, `priority`,
        `escalation_policy`, `teams`...): a reference by its `summary` then its `id`; and
        `custom_fields.<name>`, its custom field values (read once, as for declared maps)."""
        incident = await self.client.get_incident(external_id)
        values: list[dict[str, Any]] | None = None
        if self.declared_reads or any(n.startswith(CUSTOM_PREFIX) for n in names):
            values = await self.client.custom_field_values(str(incident.get("id")))
        custom = native_values(values or [])
        out = {n: value_forms(*_forms(incident[n])) for n in names if n in incident}
        out.update({n: value_forms(custom[n]) for n in names if n in custom})
        return await self._read(incident, comments=True, values=values), out

    async def _read(
        self,
        incident: Mapping[str, Any],
        *,
        comments: bool,
        values: list[dict[str, Any]] | None = None,
    ) -> RecordState:
        """Canonical state of an incident object: the assignee's e-mail (users are cached),
        with `comments` the latest note (one more request), and the declared maps' fields
        from its custom field values (`values`, else one more request)."""
        fields = self.field_map.canonical(incident)
        ids = assignee_ids(incident)
        if ids:
            email = await self.client.user_email(ids[0])
            if email is not None:
                fields[ASSIGNEE] = email
        if comments:
            notes = await self.client.notes(str(incident.get("id")))
            if notes and isinstance(content := notes[-1].get("content"), str):
                fields[COMMENT] = content
        native: dict[str, str | None] = {}
        if self.declared_reads:
            if values is None:
                values = await self.client.custom_field_values(str(incident.get("id")))
            native = native_values(values)
        return self._record(incident, self.join_declared(fields, native))

    async def fetch_many(
        self, external_ids: Sequence[str], *, comments: bool = True
    ) -> dict[str, RecordState]:
        """`GET /incidents` has no id filter: list every incident (100 a page) when that
        takes fewer requests than one `GET` per wanted incident, else read them one by one."""
        wanted = list(dict.fromkeys(external_ids))
        if not wanted:
            return {}
        page, more, total = await self.client.list_incidents(total=True)
        if total is None or math.ceil(total / PAGE_LIMIT) > len(wanted):
            return await super().fetch_many(wanted, comments=comments)
        keep, out, offset = set(wanted), {}, 0
        while True:
            for incident in page:
                if incident.get("id") in keep:
                    out[str(incident["id"])] = await self._read(incident, comments=comments)
            if not more or not page:
                break
            offset += len(page)
            page, more, _ = await self.client.list_incidents(offset=offset)
        return out

    async def changed_since(self, since: datetime) -> list[RecordState]:
        """The linked incidents with a log entry since then (`GET /log_entries?since=`),
        each read with its notes."""
        out = []
        for incident_id in await self._logged_since(since):
            try:
                record = await self.fetch(incident_id)
            except RecordNotFound:
                continue
            if record.platform_incident_id is not None:
                out.append(record)
        return out

    async def recent(self, since: datetime) -> list[RecordState]:
        """Every incident with a log entry since then (its trigger is one: made since then
        too), its `incident_key` ours or not; read in batches (`fetch_many`), without notes."""
        ids = await self._logged_since(since)
        found = await self.fetch_many(ids, comments=False)
        return [found[i] for i in ids if i in found]

    async def _logged_since(self, since: datetime) -> list[str]:
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return list(await self.client.incidents_logged_since(stamp))

    async def find_linked(self, platform_incident_id: str) -> str | None:
        key = self.field_map.incident_key(platform_incident_id)
        for incident in await self.client.incidents_by_key(key):
            if incident.get("incident_key") == key:
                return str(incident["id"])
        return None

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        service = self.options.service_id
        if not service:
            raise RequestNotSent(f"{self.config.id}: the service_id option is required")
        fields = await self.fit(fields)
        own, declared = self.split_declared(fields)
        custom = await self._custom_values(declared)  # refused before anything is made
        body: dict[str, object] = {
            "title": own.get(TITLE) or f"Incident {platform_incident_id}",
            "service": {"id": service, "type": "service_reference"},
            "urgency": self.options.urgency,
            "incident_key": self.field_map.incident_key(platform_incident_id),
        }
        if (priority := own.get(PRIORITY)) is not None:
            body["priority"] = await self._priority(priority)
        # Every reference is looked up before anything is made (an unknown one refuses it).
        policy_name, assignee = own.get(ESCALATION_POLICY), own.get(ASSIGNEE)
        policy = await self._policy(policy_name) if policy_name is not None else None
        assigned = [await self._assignment(assignee)] if assignee is not None else None
        # PagerDuty refuses `assignments` beside an `escalation_policy` on a create. With both,
        # the policy is set at creation (it decides who is paged next) and the assignee right
        # after, by a reassignment: the incident ends with both.
        if policy is not None:
            body["escalation_policy"] = policy
        elif assigned is not None:
            body["assignments"] = assigned
        incident = await self.client.create_incident(body)
        incident_id = str(incident.get("id") or "")
        if not incident_id:
            raise ToolError("PagerDuty created an incident without an id", retryable=False)
        if policy is not None and assigned is not None:
            # What the reassignment stored is the incident as created from here on.
            incident = {
                **incident,
                **await self.client.update_incident(incident_id, {"assignments": assigned}),
            }
        values = None
        if custom:
            values = await self.client.set_custom_field_values(incident_id, custom)
        if own.get(STATUS) == Status.CLOSED:
            await self.client.update_incident(incident_id, self._status_change("resolved"))
        if comment := own.get(COMMENT):
            await self.client.add_note(incident_id, comment)
        # As created: what PagerDuty filled in itself (the escalation policy's on-call user
        # as the assignee, when none was sent) is part of what this write stored.
        stored = (await self._read(incident, comments=False, values=values)).fields
        stored.pop(STATUS, None)  # resolved afterwards when asked: as sent
        return self._record(incident, {**fields, **stored})

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """One PUT for the incident's fields, one for the declared maps' custom field values
        (before it, so the incident's `updated_at` is the version after both), a note for
        `comment`; returns `updated_at` and the values the PUTs' answers show."""
        fields = await self.fit(fields)
        own, declared = self.split_declared(fields)
        custom = await self._custom_values(declared)  # refused before anything is sent
        changes: dict[str, object] = {}
        if (title := own.get(TITLE)) is not None:
            changes["title"] = title
        if (priority := own.get(PRIORITY)) is not None:
            changes["priority"] = await self._priority(priority)
        if (policy := own.get(ESCALATION_POLICY)) is not None:
            changes["escalation_policy"] = await self._policy(policy)
        # An unassigned value is not written: PagerDuty keeps someone assigned to every open
        # incident (its escalation policy pages the next one).
        if (assignee := own.get(ASSIGNEE)) is not None:
            changes["assignments"] = [await self._assignment(assignee)]
        if (status := own.get(STATUS)) is not None:
            native = await self._status_target(external_id, status)
            if native is not None:
                changes.update(self._status_change(native))
        values = None
        if custom:
            values = await self.client.set_custom_field_values(external_id, custom)
        version, answer = None, None
        if changes:
            answer = await self.client.update_incident(external_id, changes)
            version = version_of(parse_time(answer.get("updated_at")))
        elif ASSIGNEE in own or values is not None:
            # Unassigning is not written (it keeps its assignee); values move `updated_at`.
            answer = await self.client.get_incident(external_id)
            if values is not None:
                version = version_of(parse_time(answer.get("updated_at")))
        stored = {}
        if answer is not None:
            shown = (await self._read(answer, comments=False, values=values)).fields
            stored = stored_values(fields, shown)
        if comment := own.get(COMMENT):
            await self.client.add_note(external_id, comment)
        return Written(version, stored)

    async def add_comment(self, external_id: str, body: str) -> str | None:
        """A note (PagerDuty notes can be added, never edited or deleted)."""
        note = await self.client.add_note(external_id, body)
        return str(note["id"]) if note.get("id") else None

    # -- helpers ---------------------------------------------------------------------------
    async def custom_field_definitions(self) -> dict[str, Mapping[str, Any]]:
        """The account's incident custom fields by name, read once per connector."""
        if self._custom_fields is None:
            found = await self.client.custom_fields()
            self._custom_fields = {str(f["name"]): f for f in found if "name" in f}
        return self._custom_fields

    async def _custom_values(self, declared: Mapping[str, str | None]) -> dict[str, object]:
        """Custom field name -> the value to set, for the declared maps' tool fields; a field
        the account lacks or a value it cannot take is a non-retryable ToolError."""
        if not declared:
            return {}
        definitions = await self.custom_field_definitions()
        out: dict[str, object] = {}
        for tool_field, value in declared.items():
            name = field_name(tool_field)
            definition = definitions.get(name or "")
            if name is None or definition is None:
                raise ToolError(
                    f"PagerDuty: no incident custom field {tool_field!r}", retryable=False
                )
            try:
                out[name] = to_pd(definition, value)
            except NotWritable as exc:
                raise ToolError(f"PagerDuty: {exc}", retryable=False) from None
        return out

    async def _status_target(self, external_id: str, status: str) -> str | None:
        """The native status to set, or None when the incident is already there."""
        if status not in (Status.OPEN, Status.CLOSED):
            raise ToolError(f"PagerDuty: unknown canonical status {status!r}", retryable=False)
        current = (await self.client.get_incident(external_id)).get("status")
        if status == Status.CLOSED:
            return None if current == "resolved" else "resolved"
        if current != "resolved":
            return None  # triggered and acknowledged are both open
        return self.options.reopen_status

    def _status_change(self, native: str) -> dict[str, object]:
        change: dict[str, object] = {"status": native}
        if native == "resolved" and (resolution := self.options.resolution):
            change["resolution"] = resolution
        return change

    async def _priority(self, canonical: str) -> dict[str, str]:
        # A reference by id: creates take only that (updates would also take a bare name).
        name = self.field_map.priority_out(canonical)
        priority_id = await self.client.priority_id(name)
        if priority_id is None:
            raise ToolError(f"PagerDuty: the account has no priority {name!r}", retryable=False)
        return {"id": priority_id, "type": "priority_reference"}

    async def _policy(self, name: str) -> dict[str, str]:
        policy_id = await self.client.find_escalation_policy(name)
        if policy_id is None:
            raise ToolError(f"PagerDuty: no escalation policy named {name!r}", retryable=False)
        return {"id": policy_id, "type": "escalation_policy_reference"}

    async def _assignment(self, email: str) -> dict[str, object]:
        user_id = await self.client.find_user(email)
        if user_id is None:
            raise ToolError(f"PagerDuty: no user with e-mail {email!r}", retryable=False)
        return {"assignee": {"id": user_id, "type": "user_reference"}}

    def _record(self, incident: Mapping[str, Any], fields: dict[str, str | None]) -> RecordState:
        number = incident.get("incident_number")
        updated = parse_time(incident.get("updated_at"))
        return RecordState(
            external_id=str(incident.get("id")),
            fields=fields,
            reference=f"#{number}" if isinstance(number, int) else None,
            version=version_of(updated),
            platform_incident_id=self.field_map.platform_incident(incident.get("incident_key")),
            updated_at=updated,
            created_at=parse_time(incident.get("created_at")),
        )


def _forms(raw: object) -> tuple[object, ...]:
    """An incident field's forms: a reference (`{id, type, summary}`) by its summary, then
    its id; an assignment by its assignee; a list by its items."""
    if isinstance(raw, list):
        return tuple(form for item in raw for form in _forms(item))
    if isinstance(raw, Mapping):
        if isinstance(raw.get("assignee"), Mapping):
            return _forms(raw["assignee"])
        return (raw.get("summary"), raw.get("name"), raw.get("id"))
    return (raw,)
