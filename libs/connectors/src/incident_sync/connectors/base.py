"""The interface every connector implements, the record store, and the errors they raise.

A connector is the tool's API for one configured side (async httpx): read a record as
canonical state, find the record linked to a platform incident, create and update records with
canonical fields. What else its tool does (webhooks, comments with ids, a change feed) are
roles of their own (`connectors.capabilities`).
Native field names and values never leave the connector: the pipeline speaks canonical.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

import httpx

from incident_sync.connectors.metrics import FIELD_MAP_REFUSALS
from incident_sync.syncmodel import limits
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.declared import MappingRefused, declared
from incident_sync.syncmodel.fields import Field
from incident_sync.syncmodel.mapping import FieldMapping

log = logging.getLogger(__name__)
# The incident's values a template may name besides the write's own fields (its other fields,
# `url`, `reference`), for the write being made: set by the delivery around a create or an
# update (`write_context`) where the target's templates need them. Task-local, so concurrent
# writes each see their own.
WRITE_CONTEXT: ContextVar[Mapping[str, str | None]] = ContextVar(
    "write_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def write_context(values: Mapping[str, str | None]) -> Iterator[None]:
    """`values` as the template context of the writes made within."""
    token = WRITE_CONTEXT.set(values)
    try:
        yield
    finally:
        WRITE_CONTEXT.reset(token)


class WebhookRejected(Exception):
    """A webhook that must not be accepted; `status` is the HTTP answer (401, 400, 422)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ToolError(Exception):
    """A call to the tool failed. `retryable` says whether trying again can help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class RequestNotSent(ToolError):
    """The connector could not or would not make the request (a URL httpx cannot send, such
    as one over 64 KiB; credentials bound to another origin): nothing reached the tool, so
    this is no answer of the tool's. The pipeline quarantines the message instead of
    dead-lettering it; callers that only report (a connection test) see a ToolError."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class RecordNotFound(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=404, retryable=False)


@dataclass(frozen=True)
class RecordState:
    """One record as the pipeline sees it: canonical field values plus identity."""

    external_id: str
    fields: dict[str, str | None] = field(default_factory=dict)
    reference: str | None = None
    version: str | None = None
    platform_incident_id: str | None = None
    # When the record last changed, by the tool's clock (None where the tool does not say).
    updated_at: datetime | None = None
    # Where people open it (incident.io's permalink), where the tool says: what a template's
    # `{url}` shows.
    url: str | None = None
    # When it was made, by the tool's clock (None where the tool does not say).
    created_at: datetime | None = None


@dataclass(frozen=True)
class Written:
    """A tool's answer to an update.

    `version`: the record's version after the write, when the tool reports it (as in
    RecordState.version), so an older snapshot arriving later is recognised as stale.
    `stored`: the canonical values the tool stored for the fields written, as its answer shows
    them (a tool may cut, normalise or fill in a value); a field it does not show is taken as
    stored as sent. Comments are never in it (an entry is appended, not a value stored).
    """

    version: str | None = None
    stored: dict[str, str | None] = field(default_factory=dict)


def value_forms(*values: object) -> tuple[str, ...]:
    """A tool value's forms for a declare rule (`Connector.read_for_rule`): the distinct
    non-empty texts among `values`, in order (what people see first, then ids)."""
    out: list[str] = []
    for value in values:
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, int | float | str) and (text := str(value)) and text not in out:
            out.append(text)
    return tuple(out)


def stored_values(
    sent: Mapping[str, str | None], answer: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The values a tool's answer (canonical fields of the record after the write) shows for
    the fields sent: what `Written.stored` and a create's `RecordState.fields` hold."""
    return {k: answer[k] for k in sent if k in answer and k != Field.COMMENT}


class Connector(abc.ABC):
    # The tool's documented maximum length, in characters, per canonical field it stores;
    # longer values are cut visibly before they are sent (`syncmodel.limits`). A tool whose
    # limits depend on the instance overrides `field_limits`, one whose limits are not plain
    # lengths overrides `fit`.
    LIMITS: ClassVar[Mapping[str, int]] = {}

    def __init__(
        self,
        config: IntegrationConfig,
        *,
        mapping: FieldMapping | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.mapping = mapping if mapping is not None else config.mapping()
        self._http = http

    # -- API -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def test_connection(self) -> None:
        """Raise ToolError unless the tool answers an authenticated read."""

    @abc.abstractmethod
    async def fetch(self, external_id: str) -> RecordState:
        """Read one record; RecordNotFound if it does not exist."""

    async def resolve(self, reference: str) -> RecordState:
        """The record users know as `reference` (its number or key, as the tool shows it, or
        its id); RecordNotFound when the tool has none. Its `external_id` is the tool's id,
        the one links name. By default the reference is read as an id (a PagerDuty or Datadog
        id; Jira reads an issue by key or id alike); a tool whose users know another handle
        (ServiceNow's INC0010001 for a sys_id) overrides this."""
        return await self.fetch(reference)

    @abc.abstractmethod
    async def find_linked(self, platform_incident_id: str) -> str | None:
        """The id of the record correlated with a platform incident, if one exists.

        Creates look here first, so a retried create never makes a second record.
        """

    @abc.abstractmethod
    async def create(
        self, platform_incident_id: str, fields: Mapping[str, str | None]
    ) -> RecordState:
        """Create a record carrying the correlation to the platform incident."""

    @abc.abstractmethod
    async def update(self, external_id: str, fields: Mapping[str, str | None]) -> Written:
        """Set canonical fields (whole values, cut to fit; `comment` appends an entry).

        Returns the tool's answer: the record's version after the write and the values it
        stored, where the tool reports them (`Written`).
        """

    # -- a declare rule's tool fields (`syncmodel.declare`) --------------------------------
    async def read_for_rule(
        self, external_id: str, names: frozenset[str]
    ) -> tuple[RecordState, dict[str, tuple[str, ...]]]:
        """The record as `fetch` reads it, in the same read, and the tool's own values of the
        fields `names` (API field names), each in its forms (`syncmodel.declare.ToolValues`):
        for the rule only, never in the record's fields. A name the record does not have is
        left out (the rule's condition on it fails), and logged once per connector.
        RecordNotFound as `fetch`."""
        if not names:
            return await self.fetch(external_id), {}
        record, values = await self._read_tool_values(external_id, names)
        for name in sorted(names - set(values) - self._unknown_tool_fields):
            self._unknown_tool_fields.add(name)
            log.warning(
                "a declare rule names a field the tool's record does not have: it never matches",
                extra={"integration": self.config.id, "field": f"tool.{name}"},
            )
        return record, values

    async def _read_tool_values(
        self, external_id: str, names: frozenset[str]
    ) -> tuple[RecordState, dict[str, tuple[str, ...]]]:
        """`read_for_rule`'s read. Every tool's connector reads its record's own fields; a
        side whose records have no fields beyond the platform's (the platform, a notifier)
        has none."""
        return await self.fetch(external_id), {}

    @functools.cached_property
    def _unknown_tool_fields(self) -> set[str]:
        return set()

    # -- declared field maps (`IntegrationConfig.field_maps`) -------------------------------
    # A connector that maps its values in code calls these at its edges; one that writes
    # native columns through the mapping engine gets them from `self.mapping` as it is.
    def split_declared(
        self, fields: Mapping[str, str | None], context: Mapping[str, str | None] | None = None
    ) -> tuple[dict[str, str | None], dict[str, str | None]]:
        """(the fields the connector's own code writes, tool field -> value for the declared
        maps). A value a value map refuses is a non-retryable ToolError with the map's reason:
        nothing is sent, and the write is dead-lettered where an operator sees why."""
        maps = declared(self.mapping)
        if maps is None:
            return dict(fields), {}
        with self._refusals():
            return maps.split(fields, WRITE_CONTEXT.get() if context is None else context)

    def to_native(self, fields: Mapping[str, str | None]) -> dict[str, str | None]:
        """`fields` as the native columns the side's mapping writes (a connector that writes
        through the mapping engine); a refused value is a ToolError as in `split_declared`."""
        maps = declared(self.mapping)
        with self._refusals():
            if maps is None:
                return self.mapping.to_native(fields)
            own, native = maps.split(fields, WRITE_CONTEXT.get())
            return {**maps.base.to_native(own), **native}

    def to_canonical(self, native: Mapping[str, str | None]) -> dict[str, str | None]:
        """A record's native columns as platform fields through the side's mapping (a
        connector that reads through the mapping engine); a value a declared map refuses is
        reported as in `join_declared`."""
        self._report_refusals(native)
        return {str(k): v for k, v in self.mapping.to_canonical(native).items()}

    def _report_refusals(self, native: Mapping[str, str | None]) -> None:
        maps = declared(self.mapping)
        for platform_field, reason in maps.refusals(native) if maps is not None else ():
            FIELD_MAP_REFUSALS.labels(self.config.id, platform_field).inc()
            log.warning(
                "a value its field map refuses is not taken in",
                extra={"integration": self.config.id, "field": platform_field, "reason": reason},
            )

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        try:
            yield
        except MappingRefused as exc:
            reason = f"{self.config.id}: refused by its field map: {exc}"
            raise ToolError(reason, retryable=False) from None

    def join_declared(
        self, own: Mapping[str, str | None], native: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """A record's platform fields: what the connector's own code read and the declared
        maps' fields, crossed from `native` (the record's values of `declared_reads`)."""
        maps = declared(self.mapping)
        if maps is None:
            return dict(own)
        self._report_refusals(native)
        return maps.joined(own, native)

    @property
    def declared_reads(self) -> frozenset[str]:
        """The tool fields the declared maps take in: what a read must ask the tool for."""
        maps = declared(self.mapping)
        return frozenset() if maps is None else maps.tool_fields()

    @property
    def declared_writes(self) -> frozenset[str]:
        """The tool fields the declared maps write."""
        maps = declared(self.mapping)
        return frozenset() if maps is None else maps.written_tool_fields()

    # -- limits ------------------------------------------------------------------------------
    async def field_limits(self) -> Mapping[str, int]:
        """Maximum characters per canonical field (`LIMITS` unless the instance says)."""
        return self.LIMITS

    async def fit(self, fields: Mapping[str, str | None]) -> dict[str, str | None]:
        """`fields` as they are sent: each value cut to the tool's limit (idempotent).

        The delivery fits a command before it records what it writes, so the echo of a cut
        value is known as ours (and a value a declared map skips is neither sent nor
        remembered: `sendable`); `create` and `update` fit again (a no-op then), so every
        caller writes within the limits.
        """
        return limits.fit(self.sendable(fields), await self.field_limits())

    def sendable(self, fields: Mapping[str, str | None]) -> dict[str, str | None]:
        """`fields` less those the declared maps skip: they are not sent, so the tool keeps
        its value there and nothing is remembered as written."""
        maps = declared(self.mapping)
        skipped = maps.skipped(fields) if maps is not None else frozenset()
        return {k: v for k, v in fields.items() if k not in skipped}

    # -- batch reads (the reconciler) ------------------------------------------------------
    # How many records a batched read asks for at once, and how many single reads the
    # default `fetch_many` keeps in flight.
    batch_size: int = 100
    read_concurrency: int = 8

    async def fetch_many(
        self, external_ids: Sequence[str], *, comments: bool = True
    ) -> dict[str, RecordState]:
        """Read many records: id -> state; a record that does not exist is left out.

        Tools that filter a list by ids (ServiceNow `sys_idIN`, Jira `id in (...)`) or list
        every record cheaply override this to read in batches; the default reads records one
        by one, a few at a time. `comments=False` lets a connector skip the comment stream
        where it costs requests of its own (ServiceNow journals, PagerDuty notes).
        """
        gate = asyncio.Semaphore(self.read_concurrency)

        async def one(external_id: str) -> tuple[str, RecordState | None]:
            async with gate:
                try:
                    return external_id, await self.fetch(external_id)
                except RecordNotFound:
                    return external_id, None

        found = await asyncio.gather(*(one(i) for i in dict.fromkeys(external_ids)))
        return {i: r for i, r in found if r is not None}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = self._make_client()
        return self._http

    @abc.abstractmethod
    def _make_client(self) -> httpx.AsyncClient:
        """The authenticated client for this tool."""

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def classify_http_error(response: httpx.Response, message: str) -> ToolError:
    """429 / 5xx retry (honouring Retry-After); other 4xx are validation errors."""
    retry_after = _retry_after(response)
    status = response.status_code
    if status == 404:
        return RecordNotFound(message)
    retryable = status == 429 or status >= 500 or status == 408
    return ToolError(message, status=status, retryable=retryable, retry_after_s=retry_after)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
