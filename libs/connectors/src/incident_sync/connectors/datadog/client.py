"""Async client for Datadog's incidents API v2 (`DD-API-KEY` + `DD-APPLICATION-KEY`).

Errors are `{"errors": ["..."]}`; 429 carries `X-RateLimit-Reset` (seconds until reset).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.http import HeaderAuth, Reset, ResetHeader, ToolClient, path_id

BASE_URL: Final = "https://api.datadoghq.com"
FIELD_PAGE: Final = 1000  # the largest page the field listing gives
MAX_PAGES: Final = 100  # a listing that never ends is cut, not followed forever
_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


def auth(api_key: str, app_key: str) -> HeaderAuth:
    return HeaderAuth({"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key})


def _id(value: str) -> str:
    return path_id(_ID, value, "Datadog: not an incident id")


class DatadogClient(ToolClient):
    DEFAULT_BASE_URL = BASE_URL
    RESET_HEADERS = (ResetHeader("x-ratelimit-reset", Reset.SECONDS),)

    def error_text(self, body: object) -> str | None:
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"]) or None
        return None

    async def get_incident(self, incident_id: str) -> dict[str, Any]:
        return _data(await self._call("GET", f"/api/v2/incidents/{_id(incident_id)}"))

    async def create_incident(
        self, attributes: Mapping[str, object], relationships: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        data: dict[str, object] = {"type": "incidents", "attributes": dict(attributes)}
        if relationships:
            data["relationships"] = dict(relationships)
        return _data(await self._call("POST", "/api/v2/incidents", json={"data": data}))

    async def update_incident(
        self, incident_id: str, attributes: Mapping[str, object]
    ) -> dict[str, Any]:
        body = {"data": {"id": incident_id, "type": "incidents", "attributes": dict(attributes)}}
        return _data(await self._call("PATCH", f"/api/v2/incidents/{_id(incident_id)}", json=body))

    async def list_incidents(self, page_size: int = 100) -> AsyncIterator[dict[str, Any]]:
        """Every incident, `GET /api/v2/incidents` page by page (`page[offset]`)."""
        offset = 0
        while True:
            data = await self._call(
                "GET", "/api/v2/incidents", params={"page[size]": page_size, "page[offset]": offset}
            )
            items = [i for i in data.get("data") or [] if isinstance(i, dict)]
            for item in items:
                yield item
            meta = data.get("meta")
            pagination = meta.get("pagination") if isinstance(meta, dict) else None
            following = pagination.get("next_offset") if isinstance(pagination, dict) else None
            if not items or not isinstance(following, int) or following <= offset:
                return
            offset = following

    async def user_defined_fields(self, page_size: int = FIELD_PAGE) -> list[dict[str, Any]]:
        """Every incident field definition, `GET /api/v2/incidents/config/user-defined-fields`
        page by page (`page[number]` from 0) until a page comes back short."""
        found: list[dict[str, Any]] = []
        number = 0
        while True:
            data = await self._call(
                "GET",
                "/api/v2/incidents/config/user-defined-fields",
                params={"page[size]": page_size, "page[number]": number},
            )
            items = data.get("data")
            if not isinstance(items, list):
                raise ToolError("Datadog listed no field definitions", retryable=False)
            found.extend(i for i in items if isinstance(i, dict))
            if len(items) < page_size or number >= MAX_PAGES:
                return found
            number += 1

    async def search(self, query: str, page_size: int = 10) -> list[dict[str, Any]]:
        """`GET /api/v2/incidents/search?query=`: the incidents of the first page."""
        data = await self._call(
            "GET", "/api/v2/incidents/search", params={"query": query, "page[size]": page_size}
        )
        attributes = (data.get("data") or {}).get("attributes") or {}
        found = []
        for item in attributes.get("incidents") or []:
            if isinstance(item, dict) and isinstance(item.get("data"), dict):
                found.append(item["data"])
        return found


def _data(body: Mapping[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ToolError("Datadog answered without an incident", retryable=False)
    return data
