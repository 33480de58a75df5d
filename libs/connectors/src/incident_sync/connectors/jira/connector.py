"""The Jira Cloud / Jira Service Management side: issues through REST v3.

Options (`IntegrationConfig.options`):
- `project_key` (required to create), `issue_type` (default "Incident"): where creates go;
- `correlation_label_prefix` (default "incident-sync-"): creates add the label
  `<prefix><platform incident id>` (searchable with JQL, seen in every webhook) and the issue
  property `incident-sync` = {"platformIncidentId": ...};
- `priority_map` ("Highest=P1,High=P2,..."): Jira priority names <-> canonical P1..P5;
- `closed_statuses` (comma list): status names read as closed when a payload has no category;
- `close_transition` / `reopen_transition`: preferred transition names; `close_resolution`
  (default "Done"): the resolution sent when a transition screen requires one;
- `severity_field` (e.g. customfield_10050): a select custom field holding the severity;
- `comment_visibility`: `internal` (default: the comments we copy are Jira Service
  Management internal notes, seen by agents only) or `public` (shown on the portal and mailed
  to the customer); set through the comment's `sd.public.comment` property;
- `webhook_auth`: `hmac` (default: X-Hub-Signature, which signs the body), `connect-jwt`
  (a Connect app's JWT), or `any` (whichever the delivery carries). A Connect JWT's qsh
  covers the method, path and query but not the body, so a captured token can carry another
  body until it expires: JWTs are accepted only when this option asks for them.
  `connect_client_key` (the JWT `iss` to require) and `connect_path` (default
  `/webhooks/<id>`: the path the qsh claim must name).
Auth to Jira is basic `username` (the account e-mail) + `api_key` (an API token).
`actor` is the integration account's accountId: its own changes come back as echoes.
Values are cut to Jira's limits (`connectors.jira.limits`) before they are sent.
Declared field maps (`IntegrationConfig.field_maps`) are written as `fields.<id>` in each
field's shape and read from every issue read and webhook (`connectors.jira.shapes`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final

import httpx

from incident_sync.connectors.base import (
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
    DESCRIPTION,
    PRIORITY,
    SEVERITY,
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
from incident_sync.connectors.jira import catalogue, signature, transitions
from incident_sync.connectors.jira.adf import text_to_adf
from incident_sync.connectors.jira.client import JiraClient
from incident_sync.connectors.jira.fields import (
    JiraFieldMap,
    parse_time,
    version_of,
)
from incident_sync.connectors.jira.limits import SUMMARY_MAX, fit_text
from incident_sync.connectors.jira.options import JiraOptions
from incident_sync.connectors.jira.shapes import (
    LABELS,
    NotWritable,
    forms_of,
    is_user,
    items_of,
    native_values,
    to_jira,
)
from incident_sync.connectors.jira.webhook import parse_webhook
from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.events import ChangeEvent
from incident_sync.syncmodel.fields import Status

PROPERTY_KEY: Final = "incident-sync"
READ_FIELDS: Final = (
    "summary",
    "description",
    "status",
    "priority",
    "assignee",
    "labels",
    "updated",
    "comment",
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


class JiraConnector(
    ToolConnector[JiraClient], WebhookSource, CommentThread, ChangeFeed, FieldCatalogue
):
    supports_comment_edits = True
    LIMITS = {TITLE: SUMMARY_MAX}
    # The site's field schemas (`GET /field`), read once per connector for declared maps.
    _schemas: dict[str, Mapping[str, Any]] | None = None

    @cached_property
    def options(self) -> JiraOptions:
        return JiraOptions.of(self.config)

    @cached_property
    def field_map(self) -> JiraFieldMap:
        return JiraFieldMap.from_options(self.options)

    @property
    def comments_internal(self) -> bool:
        """Whether the comments we write are internal (the default) or public."""
        return self.options.comment_visibility == "internal"

    # -- webhooks --------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookRejected(401, f"{self.config.id}: no webhook secret configured")
        mode = self.options.webhook_auth
        uses_jwt = (headers.get("Authorization") or "").startswith(signature.JWT_SCHEME)
        if mode == "connect-jwt" or (mode == "any" and uses_jwt):
            signature.verify_connect_jwt(
                headers,
                secret.get_secret_value(),
                method="POST",
                path=self.options.connect_path or f"/webhooks/{self.config.id}",
                client_key=self.options.connect_client_key,
            )  # a JWT's exp / iat are checked against the clock (`now` is for signed times)
        elif mode in ("hmac", "any"):
            signature.verify_hub(headers, body, secret.get_secret_value())
        else:  # the option's model admits no other value
            raise WebhookRejected(401, f"{self.config.id}: unknown webhook_auth {mode!r}")

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        return parse_webhook(
            headers,
            body,
            fields=self.field_map,
            integration_id=self.config.id,
            tenant=self.config.tenant,
            declared=self._declared_of,
        )

    # -- API -------------------------------------------------------------------------------
    client_class = JiraClient

    def _auth(self) -> httpx.Auth:
        cfg = self.config
        what = "username (account e-mail) and api_key (API token) are"
        return httpx.BasicAuth(*self._required(what, cfg.username, cfg.api_key or cfg.password))

    def _read_fields(self, *, comments: bool = True) -> tuple[str, ...]:
        extra = (self.field_map.severity_field,) if self.field_map.severity_field else ()
        own = tuple(f for f in READ_FIELDS if comments or f != "comment") + extra
        return own + tuple(sorted(self.declared_reads - set(own)))

    async def test_connection(self) -> None:
        await self.client.myself()

    async def fetch(self, external_id: str) -> RecordState:
        issue = await self.client.get_issue(external_id, self._read_fields())
        return self._record(issue)

    async def _read_tool_values(
        self, external_id: str, names: frozenset[str]
    ) -> tuple[RecordState, dict[str, tuple[str, ...]]]:
        """The issue's `fields.<id>` (`issuetype`, `project`, a custom field's id), asked for
        in the same read (`shapes.forms_of`); Jira leaves out a field the site lacks."""
        own = self._read_fields()
        issue = await self.client.get_issue(external_id, own + tuple(sorted(names - set(own))))
        raw = issue.get("fields")
        shown: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        values = {n: value_forms(*forms_of(shown[n])) for n in names if n in shown}
        return self._record(issue), values

    async def fields(self) -> list[ToolField]:
        """The create screen of the integration's project and issue type, then the site's
        system fields it lacks (`connectors.jira.catalogue`); the issue type is found by
        name among the project's."""
        project, wanted = self.options.project_key, self.options.issue_type
        if not project:
            raise RequestNotSent(f"{self.config.id}: the project_key option is required")
        types = await self.client.create_issue_types(project)
        type_id = next(
            (
                str(t["id"])
                for t in types
                if "id" in t and str(t.get("name", "")).casefold() == wanted.casefold()
            ),
            None,
        )
        if type_id is None:
            raise ToolError(
                f"Jira: project {project} has no issue type {wanted!r}", retryable=False
            )
        screen = await self.client.create_fields(project, type_id)
        return catalogue.tool_fields(screen, await self.client.all_fields())

    async def find_linked(self, platform_incident_id: str) -> str | None:
        if not _SAFE_ID.match(platform_incident_id):
            raise ToolError(
                f"Jira: refusing to search for id {platform_incident_id!r}", retryable=False
            )
        jql = f'labels = "{self.field_map.label(platform_incident_id)}" ORDER BY created ASC'
        async for issue in self.client.search(jql, ("id",), page_size=1):
            return str(issue["id"])
        return None

    async def fetch_many(
        self, external_ids: Sequence[str], *, comments: bool = True
    ) -> dict[str, RecordState]:
        """JQL `id in (...)` per batch (issue ids or keys), fields as `fetch` reads them."""
        ids = [i for i in dict.fromkeys(external_ids) if _SAFE_ID.match(i)]
        fields = self._read_fields()
        if not comments:
            fields = tuple(f for f in fields if f != "comment")
        out: dict[str, RecordState] = {}
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            jql = f"id in ({', '.join(chunk)})"
            async for issue in self.client.search(jql, fields, page_size=len(chunk)):
                record = self._record(issue)
                out[record.external_id] = record
                if record.reference in chunk:  # asked for by key
                    out[record.reference] = record
        return out

    async def changed_since(self, since: datetime) -> list[RecordState]:
        """Linked issues updated since then. JQL dates are read in the account's time zone,
        so the window is relative (`-Nm`, by Jira's clock), rounded up to whole minutes."""
        found = await self._updated_since(since, " AND labels is not EMPTY", self._read_fields())
        return [r for r in found if r.platform_incident_id is not None]

    async def recent(self, since: datetime) -> list[RecordState]:
        """Every issue of the project updated since then (made since then, too), labelled
        or not, with its `created` time."""
        return await self._updated_since(since, "", (*self._read_fields(comments=False), "created"))

    async def _updated_since(
        self, since: datetime, also: str, fields: tuple[str, ...]
    ) -> list[RecordState]:
        minutes = max(1, math.ceil((datetime.now(UTC) - since).total_seconds() / 60))
        project = self.options.project_key
        jql = f'updated >= "-{minutes}m"{also}'
        if project:
            jql += f' AND project = "{project}"'
        return [
            self._record(issue)
            async for issue in self.client.search(jql + " ORDER BY updated ASC", fields)
        ]

    async def linked_issues(self) -> list[RecordState]:
        """Every issue carrying a correlation label (manual sync of all linked tickets)."""
        prefix = self.field_map.label_prefix
        project = self.options.project_key
        jql = f'labels is not EMPTY AND project = "{project}"' if project else "labels is not EMPTY"
        out = []
        async for issue in self.client.search(jql + " ORDER BY updated DESC", self._read_fields()):
            record = self._record(issue)
            if record.platform_incident_id is not None or any(
                str(label).startswith(prefix) for label in issue.get("fields", {}).get("labels", [])
            ):
                out.append(record)
        return out

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        options = self.options
        project = options.project_key
        if not project:
            raise RequestNotSent(f"{self.config.id}: the project_key option is required")
        internal = self.comments_internal  # a bad option refuses before anything is made
        fields = await self.fit(fields)
        own, declared = self.split_declared(fields)
        native = {**await self._native(own), **await self._declared_native(declared)}
        native.setdefault("summary", f"Incident {platform_incident_id}")
        native["project"] = {"key": project}
        native["issuetype"] = {"name": options.issue_type}
        label = self.field_map.label(platform_incident_id)
        extra_labels = native.get(LABELS)
        native[LABELS] = [label] + [
            v for v in (extra_labels if isinstance(extra_labels, list) else []) if v != label
        ]
        created = await self.client.create_issue(
            native, properties={PROPERTY_KEY: {"platformIncidentId": platform_incident_id}}
        )
        issue_id = str(created.get("id") or "")
        if not issue_id:
            raise ToolError("Jira created an issue but answered without its id", retryable=False)
        if (status := own.get(STATUS)) == Status.CLOSED:
            await self._transition(issue_id, status)
        if comment := own.get(COMMENT):
            await self.client.add_comment(issue_id, text_to_adf(comment), internal=internal)
        # The create answers only the issue's id and key: what Jira stored (its default
        # priority where none was sent, say) is read back, so it is known as ours.
        issue = await self.client.get_issue(issue_id, self._read_fields(comments=False))
        stored = self._record({**issue, "id": issue_id}).fields
        key = created.get("key")
        return RecordState(
            external_id=issue_id,
            fields={**fields, **{k: v for k, v in stored.items() if k != COMMENT}},
            reference=key if isinstance(key, str) else None,
            platform_incident_id=platform_incident_id,
        )

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """An edit for the plain fields, a transition for the status, a comment for `comment`.

        The edit asks for the issue back (`returnIssue`): the values Jira stored. No version:
        the transition and the comment that may follow move `updated` again.
        """
        fields = await self.fit(fields)
        own, declared = self.split_declared(fields)
        native = {**await self._native(own), **await self._declared_native(declared)}
        if LABELS in native:
            # The correlation label is ours, not the mapped value's: it stays.
            labelled = await self.client.get_issue(external_id, (LABELS,))
            prefix = self.field_map.label_prefix
            current = labelled.get("fields", {}).get(LABELS)
            ours = [v for v in current or [] if isinstance(v, str) and v.startswith(prefix)]
            mapped = native[LABELS]
            extra = [v for v in mapped if v not in ours] if isinstance(mapped, list) else []
            native[LABELS] = ours + extra
        stored: dict[str, str | None] = {}
        if native:
            issue = await self.client.edit_issue(external_id, native)
            if issue is not None:
                shown = self._record(issue).fields
                stored = stored_values({k: v for k, v in fields.items() if k != STATUS}, shown)
        if PRIORITY in own and own[PRIORITY] is None:
            # An issue always has a priority: asked for none, it keeps the one it has.
            issue = await self.client.get_issue(external_id, ("priority",))
            stored.update(stored_values({PRIORITY: None}, self._record(issue).fields))
        if (status := own.get(STATUS)) is not None:
            await self._transition(external_id, status)
        if comment := own.get(COMMENT):
            await self.client.add_comment(
                external_id, text_to_adf(comment), internal=self.comments_internal
            )
        return Written(stored=stored)

    async def fit(self, fields: Mapping[str, str | None]) -> dict[str, str | None]:
        fitted = await super().fit(fields)
        for name in (DESCRIPTION, COMMENT):
            if fitted.get(name):
                fitted[name] = fit_text(fitted[name])
        return fitted

    # -- comments --------------------------------------------------------------------------
    async def add_comment(self, external_id: str, body: str) -> str | None:
        created = await self.client.add_comment(
            external_id, text_to_adf(fit_text(body) or ""), internal=self.comments_internal
        )
        comment_id = created.get("id")
        return str(comment_id) if comment_id is not None else None

    async def edit_comment(self, external_id: str, comment_id: str, body: str) -> None:
        adf = text_to_adf(fit_text(body) or "")
        await self.client.update_comment(
            external_id, comment_id, adf, internal=self.comments_internal
        )

    async def delete_comment(self, external_id: str, comment_id: str) -> None:
        await self.client.delete_comment(external_id, comment_id)

    # -- helpers ---------------------------------------------------------------------------
    async def _native(self, fields: Mapping[str, str | None]) -> dict[str, object]:
        """The `fields` object of an edit / create (status and comment are separate calls)."""
        native: dict[str, object] = {}
        if (title := fields.get(TITLE)) is not None:
            native["summary"] = title
        if DESCRIPTION in fields:
            description = fields[DESCRIPTION]
            native["description"] = text_to_adf(description) if description else None
        if (priority := fields.get(PRIORITY)) is not None:
            name = self.field_map.priority_out(priority)
            if name is None:
                raise ToolError(f"Jira: no priority maps to {priority!r}", retryable=False)
            native["priority"] = {"name": name}
        if ASSIGNEE in fields:
            native["assignee"] = await self._assignee(fields[ASSIGNEE])
        if self.field_map.severity_field and (severity := fields.get(SEVERITY)) is not None:
            native[self.field_map.severity_field] = {"value": severity.capitalize()}
        return native

    async def field_schemas(self) -> dict[str, Mapping[str, Any]]:
        """Field id -> its schema (`GET /field`), read once per connector."""
        if self._schemas is None:
            schemas: dict[str, Mapping[str, Any]] = {}
            for details in await self.client.all_fields():
                schema = details.get("schema")
                if isinstance(details.get("id"), str) and isinstance(schema, dict):
                    schemas[details["id"]] = schema
            self._schemas = schemas
        return self._schemas

    async def _declared_native(self, declared: Mapping[str, str | None]) -> dict[str, object]:
        """The declared maps' `fields.<id>` values in each field's shape
        (`connectors.jira.shapes`); a field the site lacks or a value it cannot take is a
        non-retryable ToolError before anything is sent."""
        if not declared:
            return {}
        schemas = await self.field_schemas()
        out: dict[str, object] = {}
        for field_id, value in declared.items():
            schema = schemas.get(field_id)
            if schema is None:
                raise ToolError(f"Jira: the site has no field {field_id!r}", retryable=False)
            accounts: dict[str, str] = {}
            if is_user(schema) and value:
                for email in items_of(value):
                    found = await self._assignee(email)
                    accounts[email.lower()] = str((found or {})["accountId"])
            try:
                out[field_id] = to_jira(field_id, schema, value, accounts)
            except NotWritable as exc:
                raise ToolError(f"Jira: {exc}", retryable=False) from None
        return out

    def _declared_of(
        self, own: Mapping[str, str | None], raw_fields: Mapping[str, Any]
    ) -> dict[str, str | None]:
        """`own` (what the connector's code read of an issue's `raw_fields`) with the declared
        maps' fields crossed from the same issue."""
        wanted = self.declared_reads
        native = native_values(raw_fields, wanted, self.field_map.label_prefix) if wanted else {}
        return self.join_declared(own, native)

    async def _assignee(self, email: str | None) -> dict[str, str] | None:
        if not email:
            return None  # unassign
        account = await self.client.find_user(email)
        if account is None:
            raise ToolError(f"Jira: no active user with e-mail {email!r}", retryable=False)
        return {"accountId": account}

    async def _transition(self, key: str, status: str) -> None:
        await transitions.move(self.client, self.field_map, self.options, key, status)

    def _record(self, issue: Mapping[str, Any]) -> RecordState:
        issue_id = issue.get("id")
        if issue_id is None:
            raise ToolError("Jira returned an issue without an id", retryable=False)
        raw = issue.get("fields")
        raw_fields: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        key = issue.get("key")
        updated = parse_time(raw_fields.get("updated"))
        return RecordState(
            external_id=str(issue_id),
            fields=self._declared_of(
                self.field_map.canonical(raw_fields, with_comment="comment" in raw_fields),
                raw_fields,
            ),
            reference=key if isinstance(key, str) else None,
            version=version_of(updated),
            platform_incident_id=self.field_map.platform_incident(raw_fields.get("labels")),
            updated_at=updated,
            created_at=parse_time(raw_fields.get("created")),
        )
