"""The ServiceNow side: incidents in the Table API, linked by a correlation column.

Options (`IntegrationConfig.options`):
- `correlation_field` (default `u_incident_io_id`): the incident column holding the platform
  incident id (see docs/servicenow-setup.md); creates set it, `find_linked` searches it.
- `urgency`, `impact`, `category`, `assignment_group`: defaults for incidents created here.
- `close_code`, `close_notes`: sent along when a write moves the state to Resolved/Closed
  (instances usually make a close code mandatory there); unset sends neither;
- `column_lengths` ("short_description=160,description=4000"): the maximum length of the
  columns written. Unset, the connector reads them from the instance's dictionary
  (`sys_dictionary` `max_length` of the incident's columns and those it inherits from task),
  once per connector; an integration user not allowed to read the dictionary gets the stock
  lengths (`STOCK_LENGTHS`). Values are cut to these lengths, visibly, before they are sent
  (journal fields are not cut: their entries are stored whole).
Fields (`fields`, `im integration fields`): the incident table's columns, its own and task's,
from `sys_dictionary`, with the choices of `sys_choice` (`servicenow.dictionary`).
Auth is OAuth 2.0 (password grant) when `oauth_client_id` is set, basic auth otherwise.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Final

import httpx

from incident_sync.connectors.base import (
    RecordNotFound,
    RecordState,
    ToolError,
    WebhookRejected,
    Written,
    stored_values,
    value_forms,
)
from incident_sync.connectors.capabilities import ChangeFeed, FieldCatalogue, WebhookSource
from incident_sync.connectors.http import ToolConnector
from incident_sync.connectors.servicenow import signature
from incident_sync.connectors.servicenow.auth import ServiceNowOAuth
from incident_sync.connectors.servicenow.client import ServiceNowClient
from incident_sync.connectors.servicenow.dictionary import read_fields
from incident_sync.connectors.servicenow.options import ServiceNowOptions
from incident_sync.connectors.servicenow.references import References, reference_tables
from incident_sync.connectors.servicenow.webhook import JOURNAL_FIELDS, parse_webhook
from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.events import ChangeEvent

CLOSING_STATES: Final = frozenset({"6", "7"})
# Values spliced into an encoded query: `^` would start a new condition.
_QUERY_SAFE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
GLIDE_TIME: Final = "%Y-%m-%d %H:%M:%S"  # database date-times: UTC, no zone suffix
# Journal rows read per batch: enough for the latest entry of every record of a batch.
JOURNAL_PAGE: Final = 10_000
# The incident's columns as a stock instance defines them (on task): what a connector that
# may not read the dictionary assumes.
STOCK_LENGTHS: Final[Mapping[str, int]] = {"short_description": 160, "description": 4000}
DICTIONARY_TABLES: Final = ("incident", "task")  # nearest first: incident overrides task
log = logging.getLogger(__name__)


class ServiceNowConnector(
    ToolConnector[ServiceNowClient], WebhookSource, ChangeFeed, FieldCatalogue
):
    _limits: dict[str, int] | None = None
    _references: References | None = None

    @cached_property
    def options(self) -> ServiceNowOptions:
        return ServiceNowOptions.of(self.config)

    @property
    def correlation_field(self) -> str:
        return self.options.correlation_field

    # -- webhooks --------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
        # The business rule signs no timestamp: replays are caught by the delivery id dedupe.
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookRejected(401, f"{self.config.id}: no webhook secret configured")
        signature.verify(headers, body, secret.get_secret_value())

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ChangeEvent]:
        return parse_webhook(
            headers,
            body,
            mapping=self.mapping,
            integration_id=self.config.id,
            tenant=self.config.tenant,
            correlation_field=self.correlation_field,
        )

    # -- API -------------------------------------------------------------------------------
    client_class = ServiceNowClient

    def _auth(self) -> httpx.Auth:
        cfg = self.config
        username, password = self._required("username and password are", cfg.username, cfg.password)
        if cfg.oauth_client_id:
            (secret,) = self._required("oauth_client_secret is", cfg.oauth_client_secret)
            return ServiceNowOAuth(
                cfg.base_url,
                client_id=cfg.oauth_client_id,
                client_secret=secret,
                username=username,
                password=password,
            )
        return httpx.BasicAuth(username, password)

    async def test_connection(self) -> None:
        await self.client.test_connection()

    async def fetch(self, external_id: str) -> RecordState:
        return await self._from_row(await self.client.get_incident(external_id), external_id)

    async def _read_tool_values(
        self, external_id: str, names: frozenset[str]
    ) -> tuple[RecordState, dict[str, tuple[str, ...]]]:
        """A column's forms: its display value (a reference's record name, a choice's label),
        then its value (the sys_id, the choice's code); one read (`sysparm_display_value=all`).
        A journal column has no value of its own here."""
        row, shown = await self.client.get_incident_shown(external_id)
        values = {
            n: value_forms(shown.get(n), row[n])
            for n in names
            if n in row and n not in JOURNAL_FIELDS
        }
        return await self._from_row(row, external_id), values

    async def _from_row(self, record: dict[str, str], external_id: str) -> RecordState:
        # Journal fields read back as "": their latest entry lives in sys_journal_field.
        for journal in JOURNAL_FIELDS & self.mapping.native_inbound_fields():
            record.pop(journal, None)
            entry = await self.client.latest_work_note(external_id, element=journal)
            if entry:
                record[journal] = entry
        return self._record(await self._readable(record), fallback_id=external_id)

    async def fetch_many(
        self, external_ids: Sequence[str], *, comments: bool = True
    ) -> dict[str, RecordState]:
        """`sys_idIN<ids>` per batch; the latest journal entries of a batch in one query."""
        ids = [i for i in dict.fromkeys(external_ids) if _QUERY_SAFE.match(i)]
        out: dict[str, RecordState] = {}
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            rows = await self.client.search_incidents(
                "sys_idIN" + ",".join(chunk), limit=len(chunk)
            )
            for record in await self._with_journals(rows, comments):
                out[record.external_id] = record
        return out

    async def changed_since(self, since: datetime) -> list[RecordState]:
        """Linked incidents whose `sys_updated_on` (UTC) is at or after `since`."""
        return await self._updated_since(
            since, f"^{self.correlation_field}ISNOTEMPTY", comments=True
        )

    async def recent(self, since: datetime) -> list[RecordState]:
        """Every incident whose `sys_updated_on` (UTC) is at or after `since` (a record made
        since then is updated since then), its correlation column set or not."""
        return await self._updated_since(since, "", comments=False)

    async def _updated_since(
        self, since: datetime, also: str, *, comments: bool
    ) -> list[RecordState]:
        """`sys_updated_on>=<since>` (and `also`), oldest first, a page at a time."""
        stamp = since.astimezone(UTC).strftime(GLIDE_TIME)
        query = f"sys_updated_on>={stamp}{also}^ORDERBYsys_updated_on"
        out: list[RecordState] = []
        offset = 0
        while True:
            rows = await self.client.search_incidents(query, limit=self.batch_size, offset=offset)
            out += await self._with_journals(rows, comments=comments)
            if len(rows) < self.batch_size:
                return out
            offset += len(rows)

    async def _with_journals(self, rows: list[dict[str, str]], comments: bool) -> list[RecordState]:
        """Records from Table API rows, each journal field set to its latest entry."""
        journals = JOURNAL_FIELDS & self.mapping.native_inbound_fields() if comments else set()
        ids = [r["sys_id"] for r in rows if _QUERY_SAFE.match(r.get("sys_id", ""))]
        latest: dict[tuple[str, str], str] = {}
        for element in sorted(journals):
            if not ids:
                break
            entries = await self.client.query(
                "sys_journal_field",
                f"element={element}^element_idIN{','.join(ids)}^ORDERBYDESCsys_created_on",
                limit=JOURNAL_PAGE,
                fields=["element_id", "value"],
            )
            for row in entries:  # newest first: keep the first per record
                latest.setdefault((element, row.get("element_id", "")), row.get("value", ""))
        out = []
        for row in rows:
            values = {k: v for k, v in row.items() if k not in JOURNAL_FIELDS}
            for element in journals:
                if note := latest.get((element, row.get("sys_id", ""))):
                    values[element] = note
            out.append(self._record(await self._readable(values), fallback_id=""))
        return out

    async def resolve(self, reference: str) -> RecordState:
        """An incident by its number (INC0010001), as agents know it, or by its sys_id."""
        if not _QUERY_SAFE.match(reference):
            raise RecordNotFound(f"ServiceNow: {reference!r} is not an incident number or id")
        rows = await self.client.search_incidents(
            f"number={reference}^ORsys_id={reference}", limit=1, fields=["sys_id"]
        )
        if not rows or not rows[0].get("sys_id"):
            raise RecordNotFound(f"ServiceNow has no incident {reference}")
        return await self.fetch(rows[0]["sys_id"])

    async def find_linked(self, platform_incident_id: str) -> str | None:
        if not _QUERY_SAFE.match(platform_incident_id):
            raise ToolError(
                f"ServiceNow: refusing to search for id {platform_incident_id!r}", retryable=False
            )
        rows = await self.client.search_incidents(
            f"{self.correlation_field}={platform_incident_id}", limit=1, fields=["sys_id"]
        )
        return (rows[0].get("sys_id") or None) if rows else None

    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        values = await self._writable(self._native(await self.fit(fields)))
        values[self.correlation_field] = platform_incident_id
        for column, default in self.options.create_defaults().items():
            values.setdefault(column, default)
        record = await self.client.create_incident(**values)
        for journal in JOURNAL_FIELDS:
            record.pop(journal, None)  # written, but read back as "": not a known value
        return self._record(await self._readable(record), fallback_id="")

    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """One PATCH; its answer is the record as stored: the version (padded
        sys_mod_count) and the values (a business rule may have rewritten them)."""
        fields = await self.fit(fields)
        values = await self._writable(self._native(fields))
        if not values:
            return Written()
        record = await self._readable(await self.client.update_incident(external_id, values))
        shown = self.to_canonical({k: v for k, v in record.items() if k in values})
        stored = stored_values(fields, shown)
        return Written(_version(record), stored)

    async def fields(self) -> list[ToolField]:
        """The incident table's columns (its own and task's) from the dictionary, with the
        choices of those that have a choice list (`servicenow.dictionary`)."""
        return await read_fields(self.client, DICTIONARY_TABLES)

    # -- limits ----------------------------------------------------------------------------
    async def field_limits(self) -> Mapping[str, int]:
        """Canonical field -> the maximum length of the column it is written to."""
        if self._limits is None:
            lengths = await self._column_lengths()
            self._limits = {
                canonical: lengths[native]
                for canonical in self.mapping.outbound_fields()
                for native in self.mapping.to_native({canonical: ""})
                if native in lengths and native not in JOURNAL_FIELDS
            }
        return self._limits

    async def _column_lengths(self) -> dict[str, int]:
        """From the `column_lengths` option, else the dictionary, else the stock lengths."""
        if given := self.options.column_lengths:
            return {column: int(length) for column, length in given}
        columns = sorted(
            n for c in self.mapping.outbound_fields() for n in self.mapping.to_native({c: ""})
        )
        query = f"nameIN{','.join(DICTIONARY_TABLES)}^elementIN{','.join(columns)}"
        try:
            rows = await self.client.query(
                "sys_dictionary", query, limit=100, fields=["name", "element", "max_length"]
            )
        except ToolError as exc:
            if exc.retryable:
                raise
            log.warning(
                "cannot read the dictionary: assuming the stock column lengths",
                extra={"integration": self.config.id, "error": str(exc)},
            )
            return dict(STOCK_LENGTHS)
        lengths: dict[str, int] = {}
        for table in reversed(DICTIONARY_TABLES):  # task first, then incident overrides
            for row in rows:
                if row.get("name") == table and row.get("max_length", "").isdigit():
                    lengths[row.get("element", "")] = int(row["max_length"])
        return lengths or dict(STOCK_LENGTHS)

    # -- reference columns of declared field maps (`servicenow.references`) -----------------
    async def _reference_columns(self) -> References | None:
        columns = self.declared_reads | self.declared_writes
        if not columns:
            return None  # nothing to resolve: the dictionary is not read for it
        if self._references is None:
            tables = reference_tables(await self.fields(), columns)
            self._references = References(self.client, tables)
        return self._references

    async def _writable(self, values: dict[str, str | None]) -> dict[str, str | None]:
        refs = await self._reference_columns()
        return await refs.to_sys_ids(values) if refs is not None else values

    async def _readable(self, row: dict[str, str]) -> dict[str, str]:
        refs = await self._reference_columns()
        return await refs.to_names(row) if refs is not None else row

    # -- helpers ---------------------------------------------------------------------------
    def _native(self, fields: Mapping[str, str | None]) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for name, value in self.to_native(fields).items():
            if name in JOURNAL_FIELDS:
                if value:  # writing a journal appends an entry; nothing to append otherwise
                    values[name] = value
            else:
                values[name] = value if value is not None else ""  # "" clears a field
        state = values.get("state") or values.get("incident_state")
        close_code = self.options.close_code
        if state in CLOSING_STATES and close_code:
            values.setdefault("close_code", close_code)
            values.setdefault("close_notes", self.options.close_notes)
        return values

    def _record(self, record: Mapping[str, str], *, fallback_id: str) -> RecordState:
        sys_id = record.get("sys_id") or fallback_id
        if not sys_id:
            raise ToolError("ServiceNow returned an incident without a sys_id", retryable=False)
        return RecordState(
            external_id=sys_id,
            fields=self.to_canonical(record),  # plain str keys (orjson refuses StrEnums)
            reference=record.get("number") or None,
            version=_version(record),
            platform_incident_id=record.get(self.correlation_field) or None,
            updated_at=_glide_time(record.get("sys_updated_on", "")),
            created_at=_glide_time(record.get("sys_created_on", "")),
        )


def _version(record: Mapping[str, str]) -> str | None:
    # Zero-padded so string order is update order, as in the webhook's ChangeEvent.version.
    mod_count = record.get("sys_mod_count", "")
    return f"{int(mod_count):010d}" if mod_count.isdigit() else None


def _glide_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, GLIDE_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
