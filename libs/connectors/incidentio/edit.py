"""Canonical fields -> the body of one incident.io create / `actions/edit` call.

- title -> `name`; description -> `summary`;
- status -> `incident_status_id`: "open" is the first status (by rank) of category `live`,
  "closed" the first of category `closed` (categories are fixed by incident.io, names are
  not);
- severity -> `severity_id`, by case-insensitive severity name;
- comment -> a text custom field (default "External work notes"): incident.io's public API
  has no endpoint to post an incident update (`/v2/incident_updates` is read-only), so notes
  from other tools are written where responders can see them, in a custom field.
Values the account does not know raise a non-retryable ToolError: retrying cannot help until
someone fixes the mapping or the account's configuration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from connectors.base import ToolError
from connectors.incidentio.client import IncidentIoClient
from syncmodel.fields import Field, Status

DEFAULT_COMMENT_FIELD: Final = "External work notes"
STATUS_CATEGORY: Final[Mapping[str, str]] = {Status.OPEN: "live", Status.CLOSED: "closed"}

Lookup = Callable[..., Awaitable[list[dict[str, Any]]]]


async def edit_body(
    client: IncidentIoClient, fields: Mapping[str, str | None], *, comment_field: str
) -> dict[str, object]:
    """The `incident` object for an edit or create; fields it cannot carry are left out."""
    body: dict[str, object] = {}
    if (title := fields.get(Field.TITLE)) is not None:
        body["name"] = title  # a name is mandatory: never sent empty from a None
    if Field.DESCRIPTION in fields:
        body["summary"] = fields[Field.DESCRIPTION] or ""
    if (status := fields.get(Field.STATUS)) is not None:
        body["incident_status_id"] = await status_id(client, status)
    if (severity := fields.get(Field.SEVERITY)) is not None:
        body["severity_id"] = await severity_id(client, severity)
    if Field.COMMENT in fields:
        field_id = await comment_field_id(client, comment_field)
        note = fields[Field.COMMENT]
        # An empty `values` list unsets the field; a None comment means "no note".
        values = [{"value_text": note}] if note else []
        body["custom_field_entries"] = [{"custom_field_id": field_id, "values": values}]
    return body


async def _find(lookup: Lookup, match: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Matching items; a miss in the cache is retried once against a fresh list."""
    for refresh in (False, True):
        found = [item for item in await lookup(refresh=refresh) if match(item)]
        if found:
            return found
    return []


def _rank(item: Mapping[str, Any]) -> float:
    rank = item.get("rank")
    return float(rank) if isinstance(rank, int | float) else float("inf")


async def status_id(client: IncidentIoClient, status: str) -> str:
    category = STATUS_CATEGORY.get(status)
    if category is None:
        known = ", ".join(STATUS_CATEGORY)
        raise ToolError(f"incident.io: unknown status {status!r} (known: {known})", retryable=False)
    found = await _find(client.incident_statuses, lambda s: s.get("category") == category)
    if not found:
        raise ToolError(
            f"incident.io: the account has no incident status of category {category!r}",
            retryable=False,
        )
    return str(min(found, key=_rank)["id"])


async def severity_id(client: IncidentIoClient, severity: str) -> str:
    wanted = severity.casefold()
    found = await _find(client.severities, lambda s: str(s.get("name", "")).casefold() == wanted)
    if not found:
        names = ", ".join(str(s.get("name")) for s in await client.severities())
        raise ToolError(
            f"incident.io: unknown severity {severity!r} (the account has: {names})",
            retryable=False,
        )
    return str(found[0]["id"])


async def comment_field_id(client: IncidentIoClient, name: str) -> str:
    wanted = name.casefold()
    found = await _find(client.custom_fields, lambda f: str(f.get("name", "")).casefold() == wanted)
    if not found:
        raise ToolError(
            f"incident.io: no custom field named {name!r} to hold comments; create a text "
            "custom field with that name or set the `comment_custom_field` option",
            retryable=False,
        )
    field = found[0]
    if field.get("field_type") != "text":
        raise ToolError(
            f"incident.io: custom field {name!r} is {field.get('field_type')!r}, not text",
            retryable=False,
        )
    return str(field["id"])
