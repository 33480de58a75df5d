"""Canonical fields -> the body of one incident.io create / `actions/edit` call.

- title -> `name`; description -> `summary`;
- status -> `incident_status_id`: "open" is the first status (by rank) of category `live`,
  "closed" the first of category `closed` (categories are fixed by incident.io, names are
  not);
- severity -> `severity_id`, by case-insensitive severity name;
- comment -> a text custom field (default "External work notes"): incident.io's public API
  has no endpoint to post an incident update (`/v2/incident_updates` is read-only), so notes
  from other tools are written where responders can see them, in a custom field;
- priority -> the custom field named by `priority_field` (default "Priority"): a
  single-select by option value, or a text field; left out when the account has no such field;
- `custom.<name>` (an integration's declared field map into one of the platform's custom
  fields) -> that field's entry (`custom_entry`: text, numeric, link, single- and
  multi-select by option value);
- assignee -> the incident lead role (`incident_role_assignments`, by e-mail address; None
  leaves the role unassigned).
Values the account does not know raise a non-retryable ToolError: retrying cannot help until
someone fixes the mapping or the account's configuration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.incidentio.client import IncidentIoClient
from incident_sync.connectors.incidentio.fields import CUSTOM_PREFIX
from incident_sync.syncmodel.fields import Field, Status

# How each plain custom field type takes its value in an entry.
_PLAIN_VALUES: Final[Mapping[str, str]] = {
    "text": "value_text",
    "numeric": "value_numeric",
    "link": "value_link",
}
STATUS_CATEGORY: Final[Mapping[str, str]] = {Status.OPEN: "live", Status.CLOSED: "closed"}

Lookup = Callable[..., Awaitable[list[dict[str, Any]]]]


async def edit_body(
    client: IncidentIoClient,
    fields: Mapping[str, str | None],
    *,
    comment_field: str,
    priority_field: str | None = None,
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
    if Field.PRIORITY in fields and priority_field:
        entry = await custom_entry(client, priority_field, fields[Field.PRIORITY])
        if entry is not None:
            entries = body.setdefault("custom_field_entries", [])
            assert isinstance(entries, list)
            entries.append(entry)
    for name, value in fields.items():
        if not name.startswith(CUSTOM_PREFIX):
            continue  # an integration's declared map into one of the platform's custom fields
        entry = await custom_entry(client, name[len(CUSTOM_PREFIX) :], value)
        if entry is None:
            raise ToolError(f"incident.io: no custom field {name!r}", retryable=False)
        entries = body.setdefault("custom_field_entries", [])
        assert isinstance(entries, list)
        entries.append(entry)
    if Field.ASSIGNEE in fields:
        assignment: dict[str, object] = {"incident_role_id": await lead_role_id(client)}
        if email := fields[Field.ASSIGNEE]:
            assignment["assignee"] = {"email": email}
        body["incident_role_assignments"] = [assignment]
    return body


async def custom_entry(
    client: IncidentIoClient, name: str, value: str | None
) -> dict[str, object] | None:
    """The custom field entry setting the field called `name` to `value` (None or "": unset);
    None when the account has no such field. Text and numeric fields take the value, a link
    field a URL, a single-select the option whose value it is, a multi-select the options it
    names separated by ", " (how a multi-select reads as `custom.<name>`). Any other type
    or an unknown option is a non-retryable ToolError. A catalog-backed field takes the entry
    the value names (`_catalog_values`)."""
    wanted = name.casefold()
    found = await _find(client.custom_fields, lambda f: str(f.get("name", "")).casefold() == wanted)
    if not found:
        return None
    field = found[0]
    field_id = str(field["id"])
    if not value:
        return {"custom_field_id": field_id, "values": []}
    kind = str(field.get("field_type"))
    if isinstance(catalog := field.get("catalog_type_id"), str) and catalog:
        return {"custom_field_id": field_id, "values": await _catalog_values(client, field, value)}
    if kind in _PLAIN_VALUES:
        return {"custom_field_id": field_id, "values": [{_PLAIN_VALUES[kind]: value}]}
    if kind not in ("single_select", "multi_select"):
        raise ToolError(
            f"incident.io: custom field {name!r} is {kind!r}: only text, numeric, link and "
            "select fields are written",
            retryable=False,
        )

    async def options(*, refresh: bool = False) -> list[dict[str, Any]]:
        return await client.custom_field_options(field_id, refresh=refresh)

    wanted_values = [value] if kind == "single_select" else [v.strip() for v in value.split(",")]
    chosen: list[dict[str, object]] = []
    for one in wanted_values:
        match = await _find(options, _option_valued(one))
        if not match:
            raise ToolError(
                f"incident.io: custom field {name!r} has no option {one!r}", retryable=False
            )
        chosen.append({"value_option_id": str(match[0]["id"])})
    return {"custom_field_id": field_id, "values": chosen}


async def _catalog_values(
    client: IncidentIoClient, field: Mapping[str, Any], value: str
) -> list[dict[str, object]]:
    """A catalog-backed field's values: the entry each name stands for (found by its name,
    an alias or its external id; several of a multi-select separated by ", "), as the
    incident's entry names it back. A name with no entry, or with several, is refused."""
    names = [value] if field.get("field_type") != "multi_select" else value.split(",")
    chosen: list[dict[str, object]] = []
    for name in (n.strip() for n in names):

        async def entries(*, refresh: bool = False, wanted: str = name) -> list[dict[str, Any]]:
            return await client.catalog_entries(
                str(field["catalog_type_id"]), wanted, refresh=refresh
            )

        found = await _find(entries, lambda _: True)
        if len(found) != 1:
            what = "no catalog entry" if not found else "several catalog entries"
            raise ToolError(
                f"incident.io: custom field {field.get('name')!r}: {what} named {name!r}",
                retryable=False,
            )
        chosen.append({"value_catalog_entry_id": str(found[0]["id"])})
    return chosen


def _option_valued(value: str) -> Callable[[dict[str, Any]], bool]:
    wanted = value.casefold()
    return lambda option: str(option.get("value", "")).casefold() == wanted


async def lead_role_id(client: IncidentIoClient) -> str:
    found = await _find(client.incident_roles, lambda r: r.get("role_type") == "lead")
    if not found:
        raise ToolError("incident.io: the account has no incident lead role", retryable=False)
    return str(found[0]["id"])


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
