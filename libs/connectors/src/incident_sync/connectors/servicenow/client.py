"""Async ServiceNow Table API client (`/api/now/table/{table}`).

Every call asks for database values (`sysparm_display_value=false`: codes, not labels, and
UTC date-times) with bare reference values (`sysparm_exclude_reference_link=true`); records
are still flattened in case a proxy or an old release sends `{"link", "value"}` objects.
Rate limits: ServiceNow answers 429 with `Retry-After`, and always sends `X-RateLimit-Reset`
(a Unix time) when a rule matches; the wait is taken from either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.http import Reset, ResetHeader, ToolClient, path_id

TABLE_PATH: Final = "/api/now/table/"
READ_PARAMS: Final[Mapping[str, str]] = {
    "sysparm_exclude_reference_link": "true",
    "sysparm_display_value": "false",
}
CLOSED_STATE: Final = "6"  # Resolved: the state the incident form's "Resolve" button sets
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def flatten(record: Mapping[str, Any]) -> dict[str, str]:
    """Every value as the Table API's string; a reference object becomes its sys_id."""
    out: dict[str, str] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            value = value.get("value", "")
        out[key] = "" if value is None else str(value)
    return out


def _id(value: str) -> str:
    return path_id(_SAFE_ID, value, "ServiceNow: not a sys_id")


class ServiceNowClient(ToolClient):
    RESET_HEADERS = (ResetHeader("x-ratelimit-reset", Reset.UNIX),)
    PARAMS = READ_PARAMS

    def error_text(self, body: object) -> str | None:
        """ServiceNow's `{"error": {"message", "detail"}, "status": "failure"}`."""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            message, detail = err.get("message") or "", err.get("detail") or ""
            return f"{message}: {detail}" if message and detail else str(message or detail)
        return None

    # -- generic table calls ---------------------------------------------------------------
    async def get_record(self, table: str, sys_id: str) -> dict[str, str]:
        data = await self._call("GET", f"{TABLE_PATH}{table}/{_id(sys_id)}")
        return _result(data)

    async def insert(self, table: str, values: Mapping[str, object]) -> dict[str, str]:
        data = await self._call("POST", TABLE_PATH + table, json=dict(values))
        return _result(data)

    async def patch(self, table: str, sys_id: str, values: Mapping[str, object]) -> dict[str, str]:
        data = await self._call("PATCH", f"{TABLE_PATH}{table}/{_id(sys_id)}", json=dict(values))
        return _result(data)

    async def query(
        self,
        table: str,
        sysparm_query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        fields: list[str] | None = None,
    ) -> list[dict[str, str]]:
        params: dict[str, str | int] = {
            "sysparm_limit": limit,
            "sysparm_offset": offset,
            # The count is a second query on the instance; nothing here reads it.
            "sysparm_no_count": "true",
        }
        if sysparm_query:
            params["sysparm_query"] = sysparm_query
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        try:
            data = await self._call("GET", TABLE_PATH + table, params=params)
        except ToolError as exc:
            if exc.status == 404:  # the v1 behaviour for "no rows", still seen on some instances
                return []
            raise
        rows = data.get("result")
        if not isinstance(rows, list):
            raise ToolError(
                f"ServiceNow {table} query answered without a result list", retryable=False
            )
        return [flatten(row) for row in rows if isinstance(row, dict)]

    # -- incidents -------------------------------------------------------------------------
    async def test_connection(self) -> None:
        await self.query("incident", "", limit=1, fields=["sys_id"])

    async def get_incident(self, sys_id: str) -> dict[str, str]:
        return await self.get_record("incident", sys_id)

    async def get_incident_shown(self, sys_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """(the record as `get_incident` reads it, each column's display value): one read
        with `sysparm_display_value=all` (a reference's `display_value` is the referenced
        record's name, a choice's its label)."""
        data = await self._call(
            "GET", f"{TABLE_PATH}incident/{_id(sys_id)}", params={"sysparm_display_value": "all"}
        )
        record = _result(data)
        raw = data["result"]
        shown = {
            k: str(v["display_value"])
            for k, v in raw.items()
            if isinstance(v, dict) and v.get("display_value") not in (None, "")
        }
        return record, shown

    async def create_incident(
        self,
        short_description: str | None = None,
        description: str | None = None,
        urgency: str | None = None,
        impact: str | None = None,
        category: str | None = None,
        assignment_group: str | None = None,
        **extra: str | None,
    ) -> dict[str, str]:
        values = {
            "short_description": short_description,
            "description": description,
            "urgency": urgency,
            "impact": impact,
            "category": category,
            "assignment_group": assignment_group,
            **extra,
        }
        return await self.insert("incident", {k: v for k, v in values.items() if v is not None})

    async def update_incident(self, sys_id: str, values: Mapping[str, object]) -> dict[str, str]:
        return await self.patch("incident", sys_id, values)

    async def search_incidents(
        self,
        sysparm_query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        fields: list[str] | None = None,
    ) -> list[dict[str, str]]:
        return await self.query(
            "incident", sysparm_query, limit=limit, offset=offset, fields=fields
        )

    async def add_work_note(self, sys_id: str, note: str, *, table: str = "incident") -> None:
        # Writing a journal field appends one entry; reading it back gives "".
        await self.patch(table, sys_id, {"work_notes": note})

    async def close_incident(
        self, sys_id: str, close_code: str, close_notes: str
    ) -> dict[str, str]:
        values = {"state": CLOSED_STATE, "close_code": close_code, "close_notes": close_notes}
        return await self.patch("incident", sys_id, values)

    async def latest_work_note(self, sys_id: str, *, element: str = "work_notes") -> str | None:
        """The newest journal entry's text: the Table API never returns journal history."""
        query = f"element={element}^element_id={_id(sys_id)}^ORDERBYDESCsys_created_on"
        rows = await self.query("sys_journal_field", query, limit=1, fields=["value"])
        return rows[0].get("value") if rows else None

    # -- change requests -------------------------------------------------------------------
    async def create_change_request(
        self,
        short_description: str,
        description: str | None = None,
        *,
        change_type: str = "normal",
        **extra: str | None,
    ) -> dict[str, str]:
        values = {"short_description": short_description, "description": description, **extra}
        values["type"] = change_type
        return await self.insert(
            "change_request", {k: v for k, v in values.items() if v is not None}
        )

    async def get_change_request(self, sys_id: str) -> dict[str, str]:
        return await self.get_record("change_request", sys_id)


def _result(data: Mapping[str, Any]) -> dict[str, str]:
    result = data.get("result")
    if not isinstance(result, dict):
        raise ToolError("ServiceNow answered without a result record", retryable=False)
    return flatten(result)
