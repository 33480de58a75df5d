"""Async client for the PagerDuty REST API v2 (the calls incident-sync needs).

Every request carries `Authorization: Token token=<key>`, the versioned `Accept` header,
`Content-Type: application/json` and `From: <e-mail of a user>` (required on writes with an
account-level key; it attributes the change). Errors are `{"error": {"message", "code",
"errors": [...]}}`; 429 means back off (`ratelimit-reset` seconds, when sent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Final

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.http import (
    HeaderAuth,
    Reset,
    ResetHeader,
    ToolClient,
    member,
    path_id,
)

BASE_URL: Final = "https://api.pagerduty.com"
ACCEPT: Final = "application/vnd.pagerduty+json;version=2"
LOOKUP_TTL_S: Final = 300.0
PAGE_LIMIT: Final = 100  # the list endpoints' maximum
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def auth(token: str, from_email: str) -> HeaderAuth:
    return HeaderAuth(
        {
            "Authorization": f"Token token={token}",
            "Accept": ACCEPT,
            "Content-Type": "application/json",  # the spec requires it on reads too
            "From": from_email,
        }
    )


def _id(value: str) -> str:
    return path_id(_ID, value, "PagerDuty: not an id")


class PagerDutyClient(ToolClient):
    DEFAULT_BASE_URL = BASE_URL
    # No Retry-After is documented: a 429 says when to try again in `ratelimit-reset`.
    RESET_HEADERS = (ResetHeader("ratelimit-reset", Reset.SECONDS),)

    _priorities: tuple[float, dict[str, str]] | None = None

    @cached_property
    def _users(self) -> dict[str, tuple[float, str | None]]:
        return {}

    def error_text(self, body: object) -> str | None:
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            details = [str(e) for e in err.get("errors") or []]
            text = f"{err.get('message', 'error')} (code {err.get('code')})"
            return text + (": " + "; ".join(details) if details else "")
        return None

    # -- incidents -------------------------------------------------------------------------
    async def get_incident(self, incident_id: str) -> dict[str, Any]:
        return _obj(await self._call("GET", f"/incidents/{_id(incident_id)}"), "incident")

    async def incidents_by_key(self, incident_key: str) -> list[dict[str, Any]]:
        data = await self._call(
            "GET", "/incidents", params={"incident_key": incident_key, "limit": 5}
        )
        return [i for i in data.get("incidents") or [] if isinstance(i, dict)]

    async def list_incidents(
        self, *, offset: int = 0, limit: int = PAGE_LIMIT, total: bool = False
    ) -> tuple[list[dict[str, Any]], bool, int | None]:
        """One page of every incident (any date): (incidents, more, total when asked)."""
        params: dict[str, str | int] = {"date_range": "all", "limit": limit, "offset": offset}
        if total:
            params["total"] = "true"
        data = await self._call("GET", "/incidents", params=params)
        count = data.get("total")
        return (
            [i for i in data.get("incidents") or [] if isinstance(i, dict)],
            data.get("more") is True,
            count if isinstance(count, int) else None,
        )

    async def incidents_logged_since(self, since: str) -> list[str]:
        """Ids of the incidents with a log entry at or after `since` (ISO 8601), newest
        change first, each once: `GET /log_entries` across the account."""
        seen: dict[str, None] = {}
        offset = 0
        while True:
            data = await self._call(
                "GET",
                "/log_entries",
                params={"since": since, "limit": PAGE_LIMIT, "offset": offset},
            )
            entries = [e for e in data.get("log_entries") or [] if isinstance(e, dict)]
            for entry in entries:
                incident = entry.get("incident")
                if isinstance(incident, dict) and isinstance(incident.get("id"), str):
                    seen.setdefault(incident["id"])
            if data.get("more") is not True or not entries:
                return list(seen)
            offset += len(entries)

    async def create_incident(self, incident: Mapping[str, object]) -> dict[str, Any]:
        body = {"incident": {"type": "incident", **incident}}
        return _obj(await self._call("POST", "/incidents", json=body), "incident")

    async def update_incident(
        self, incident_id: str, changes: Mapping[str, object]
    ) -> dict[str, Any]:
        body = {"incident": {"type": "incident_reference", **changes}}
        data = await self._call("PUT", f"/incidents/{_id(incident_id)}", json=body)
        return _obj(data, "incident")

    async def add_note(self, incident_id: str, content: str) -> dict[str, Any]:
        data = await self._call(
            "POST", f"/incidents/{_id(incident_id)}/notes", json={"note": {"content": content}}
        )
        return _obj(data, "note")

    async def notes(self, incident_id: str) -> list[dict[str, Any]]:
        data = await self._call("GET", f"/incidents/{_id(incident_id)}/notes")
        return [n for n in data.get("notes") or [] if isinstance(n, dict)]

    # -- custom field values ---------------------------------------------------------------
    async def custom_field_values(self, incident_id: str) -> list[dict[str, Any]]:
        """`GET /incidents/{id}/custom_fields/values`: the incident's field values."""
        data = await self._call("GET", f"/incidents/{_id(incident_id)}/custom_fields/values")
        return _values(data)

    async def set_custom_field_values(
        self, incident_id: str, values: Mapping[str, object]
    ) -> list[dict[str, Any]]:
        """`PUT /incidents/{id}/custom_fields/values` with `{"custom_fields": [{"name",
        "value"}]}` (field name -> value): the incident's field values after it."""
        body = {"custom_fields": [{"name": k, "value": v} for k, v in values.items()]}
        path = f"/incidents/{_id(incident_id)}/custom_fields/values"
        return _values(await self._call("PUT", path, json=body))

    # -- lookups ---------------------------------------------------------------------------
    async def abilities(self) -> list[str]:
        data = await self._call("GET", "/abilities")
        return [str(a) for a in data.get("abilities") or []]

    async def user_email(self, user_id: str) -> str | None:
        cached = self._users.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < LOOKUP_TTL_S:
            return cached[1]
        user = _obj(await self._call("GET", f"/users/{_id(user_id)}"), "user")
        email = user.get("email")
        value = email.strip().lower() if isinstance(email, str) and email else None
        self._users[user_id] = (time.monotonic(), value)
        return value

    async def find_user(self, email: str) -> str | None:
        data = await self._call("GET", "/users", params={"query": email})
        wanted = email.strip().lower()
        for user in data.get("users") or []:
            if isinstance(user, dict) and str(user.get("email", "")).lower() == wanted:
                return str(user["id"])
        return None

    async def priority_id(self, name: str) -> str | None:
        """The id of the account priority with this name (listed once per LOOKUP_TTL_S)."""
        now = time.monotonic()
        if self._priorities is None or now - self._priorities[0] > LOOKUP_TTL_S:
            data = await self._call("GET", "/priorities")
            names = {
                str(p.get("name")).casefold(): str(p["id"])
                for p in data.get("priorities") or []
                if isinstance(p, dict) and "id" in p
            }
            self._priorities = (now, names)
        return self._priorities[1].get(name.casefold())

    async def priority_names(self) -> list[str]:
        """The account's priorities by name, in its order (`GET /priorities`, every page)."""
        names: list[str] = []
        offset = 0
        while True:
            data = await self._call(
                "GET", "/priorities", params={"limit": PAGE_LIMIT, "offset": offset}
            )
            page = [p for p in data.get("priorities") or [] if isinstance(p, dict)]
            names.extend(str(p["name"]) for p in page if p.get("name"))
            if data.get("more") is not True or not page:
                return names
            offset += len(page)

    async def custom_fields(self) -> list[dict[str, Any]]:
        """The incident custom fields with their options: `GET /incidents/custom_fields
        ?include[]=field_options` (the Base Incident Type's fields, the type of the incidents
        the connector creates; the spec marks it deprecated in favour of
        `/incidents/types/{type}/custom_fields`, which the connector does not need until it
        creates incidents of another type). Generally available since 2023: no
        `X-EARLY-ACCESS` header."""
        data = await self._call(
            "GET", "/incidents/custom_fields", params={"include[]": "field_options"}
        )
        fields = data.get("fields")
        if not isinstance(fields, list):
            raise ToolError("PagerDuty listed no custom fields", retryable=False)
        return [f for f in fields if isinstance(f, dict)]

    async def find_escalation_policy(self, name: str) -> str | None:
        data = await self._call("GET", "/escalation_policies", params={"query": name})
        for policy in data.get("escalation_policies") or []:
            if (
                isinstance(policy, dict)
                and str(policy.get("name", "")).casefold() == name.casefold()
            ):
                return str(policy["id"])
        return None


def _values(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    values = data.get("custom_fields")
    if not isinstance(values, list):
        raise ToolError("PagerDuty answered custom field values without a list", retryable=False)
    return [v for v in values if isinstance(v, dict)]


def _obj(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    return member(data, key, "PagerDuty")
