"""Async client for the incident.io REST API (the calls incident-sync needs, nothing more).

Auth is a Bearer API key. Requests use absolute URLs and per-request auth so that a shared,
unconfigured `httpx.AsyncClient` can be passed in as well as the connector's own.
Lookup lists (statuses, severities, custom fields) change rarely and are needed by every
edit, so they are cached for `LOOKUP_TTL_S`; `refresh=True` bypasses the cache (a value not
found in a stale cache is looked up once more before being reported as unknown).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from incident_sync.connectors.http import ToolClient, member

BASE_URL: Final = "https://api.incident.io"
LOOKUP_TTL_S: Final = 300.0
MAX_PAGE_SIZE: Final = 250  # the documented maximum (the spec schema says 500)


@dataclass(frozen=True)
class Page:
    incidents: list[dict[str, Any]]
    after: str | None  # the cursor to the next page; None on the last
    total: int | None  # every incident matching the filters, when the API says


class IncidentIoClient(ToolClient):
    DEFAULT_BASE_URL = BASE_URL

    @cached_property
    def _cache(self) -> dict[str, tuple[float, list[dict[str, Any]]]]:
        return {}

    def error_text(self, body: object) -> str | None:
        """incident.io's `{"type", "status", "request_id", "errors": [{"message", ...}]}`."""
        if not isinstance(body, dict):
            return None
        errors = body.get("errors")
        messages = []
        if isinstance(errors, list):
            for err in errors:
                if isinstance(err, dict) and isinstance(err.get("message"), str):
                    source = err.get("source")
                    field = source.get("field") if isinstance(source, dict) else None
                    messages.append(f"{err['message']} ({field})" if field else err["message"])
        kind = body.get("type", "error")
        request_id = body.get("request_id")
        text = "; ".join(messages) or str(kind)
        return f"{kind}: {text}" + (f" [request_id {request_id}]" if request_id else "")

    # -- incidents -------------------------------------------------------------------------
    async def show_incident(self, incident_id: str) -> dict[str, Any]:
        """GET /v2/incidents/{id}: `id` is the ULID or the number of the reference."""
        data = await self._call("GET", f"/v2/incidents/{incident_id}")
        return _obj(data, "incident")

    async def list_incidents(
        self, *, page_size: int = 25, filters: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every incident matching `filters` (e.g. {"status_category[one_of]": "live"}),
        following the `after` cursor page by page."""
        after: str | None = None
        while True:
            page = await self.list_page(page_size=page_size, filters=filters, after=after)
            for incident in page.incidents:
                yield incident
            # Stop on an empty page or a cursor that does not move (never loop forever).
            if not page.incidents or not page.after or page.after == after:
                return
            after = page.after

    async def list_page(
        self,
        *,
        page_size: int = 25,
        filters: Mapping[str, str] | None = None,
        after: str | None = None,
    ) -> Page:
        """One page of `GET /v2/incidents`, with the cursor to the next and the total."""
        params: dict[str, str | int] = {"page_size": min(page_size, MAX_PAGE_SIZE)}
        params.update(filters or {})
        if after:
            params["after"] = after
        data = await self._call("GET", "/v2/incidents", params=params)
        incidents = [i for i in data.get("incidents") or [] if isinstance(i, dict)]
        meta = data.get("pagination_meta")
        meta = meta if isinstance(meta, dict) else {}
        total = meta.get("total_record_count")
        return Page(
            incidents,
            str(meta["after"]) if meta.get("after") else None,
            total if isinstance(total, int) else None,
        )

    async def create_incident(
        self, *, idempotency_key: str, visibility: str = "public", **fields: object
    ) -> dict[str, Any]:
        """POST /v2/incidents. A repeated idempotency_key returns the incident it made."""
        body: dict[str, object] = {"idempotency_key": idempotency_key, "visibility": visibility}
        body.update({k: v for k, v in fields.items() if v is not None})
        data = await self._call("POST", "/v2/incidents", json=body)
        return _obj(data, "incident")

    async def edit_incident(
        self, incident_id: str, incident: Mapping[str, object], *, notify: bool = False
    ) -> dict[str, Any]:
        """POST /v2/incidents/{id}/actions/edit: only the fields given change."""
        body = {"incident": dict(incident), "notify_incident_channel": notify}
        data = await self._call("POST", f"/v2/incidents/{incident_id}/actions/edit", json=body)
        return _obj(data, "incident")

    # -- lookups (cached) ------------------------------------------------------------------
    async def incident_statuses(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        return await self._lookup("/v1/incident_statuses", "incident_statuses", refresh)

    async def severities(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        return await self._lookup("/v1/severities", "severities", refresh)

    async def custom_fields(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        return await self._lookup("/v2/custom_fields", "custom_fields", refresh)

    async def incident_roles(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        return await self._lookup("/v2/incident_roles", "incident_roles", refresh)

    async def custom_field_options(
        self, custom_field_id: str, *, refresh: bool = False
    ) -> list[dict[str, Any]]:
        """Every option of a select field: `GET /v1/custom_field_options`, page by page."""
        return await self._lookup(
            "/v1/custom_field_options",
            "custom_field_options",
            refresh,
            params={"custom_field_id": custom_field_id, "page_size": MAX_PAGE_SIZE},
            paged=True,
        )

    async def catalog_entries(
        self, catalog_type_id: str, identifier: str, *, refresh: bool = False
    ) -> list[dict[str, Any]]:
        """The entries of a catalog type that `identifier` names (an id, an external id or an
        alias; the name too where the type uses names as identifiers):
        `GET /v3/catalog_entries?identifier=`."""
        return await self._lookup(
            "/v3/catalog_entries",
            "catalog_entries",
            refresh,
            # An identifier names one entry (or a few): one page is all there is to read.
            params={"catalog_type_id": catalog_type_id, "identifier": identifier, "page_size": 25},
        )

    async def _lookup(
        self,
        path: str,
        key: str,
        refresh: bool,
        params: Mapping[str, str | int] | None = None,
        *,
        paged: bool = False,
    ) -> list[dict[str, Any]]:
        """The list under `key`; `paged`: following `pagination_meta.after` to the end."""
        cache_key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        cached = self._cache.get(cache_key)
        now = time.monotonic()
        if cached is not None and not refresh and now - cached[0] < LOOKUP_TTL_S:
            return cached[1]
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            query = {**(params or {}), **({"after": after} if after else {})}
            data = await self._call("GET", path, params=query or None)
            page = [i for i in data.get(key) or [] if isinstance(i, dict)]
            items += page
            meta = data.get("pagination_meta")
            cursor = meta.get("after") if isinstance(meta, dict) else None
            # Stop on an empty page or a cursor that does not move (never loop forever).
            if not paged or not page or not isinstance(cursor, str) or cursor in ("", after):
                break
            after = cursor
        self._cache[cache_key] = (now, items)
        return items


def _obj(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    return member(data, key, "incident.io")
