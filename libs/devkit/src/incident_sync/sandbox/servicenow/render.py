"""The Table API's read shape: reference links, display values, field selection."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from incident_sync.sandbox.servicenow.schema import CHOICES, JOURNAL_FIELDS, Table


@dataclass(frozen=True)
class ReadOptions:
    base_url: str
    display_value: str = "false"  # "false" | "true" | "all"
    exclude_reference_link: bool = False
    fields: tuple[str, ...] = ()  # empty = every column

    @classmethod
    def from_query(cls, base_url: str, query: Mapping[str, str]) -> ReadOptions:
        display = query.get("sysparm_display_value", "false").lower()
        fields = tuple(f.strip() for f in query.get("sysparm_fields", "").split(",") if f.strip())
        return cls(
            base_url=base_url,
            display_value=display if display in ("true", "all") else "false",
            exclude_reference_link=query.get("sysparm_exclude_reference_link", "").lower()
            == "true",
            fields=fields,
        )


def render(
    table: Table, row: Mapping[str, str], opts: ReadOptions, names: Mapping[str, str]
) -> dict[str, Any]:
    """One record as the Table API returns it; `names` gives user display names by sys_id."""
    keys = [f for f in opts.fields if f in row] if opts.fields else list(row)
    return {key: _value(table, key, row, opts, names) for key in keys}


def _value(
    table: Table, key: str, row: Mapping[str, str], opts: ReadOptions, names: Mapping[str, str]
) -> Any:
    # Journal inputs read back empty: their history lives in sys_journal_field.
    value = "" if key in JOURNAL_FIELDS else row[key]
    display = CHOICES.get(key, {}).get(value, value) if table.name != "change_request" else value
    ref_table = table.references.get(key)
    if ref_table is not None and value:
        display = names.get(value, value)
        link = f"{opts.base_url}/api/now/table/{ref_table}/{value}"
        if opts.display_value == "false":
            return value if opts.exclude_reference_link else {"link": link, "value": value}
        out: dict[str, str] = {"display_value": display}
        if not opts.exclude_reference_link:
            out["link"] = link
        if opts.display_value == "all":
            out["value"] = value
        return out
    if opts.display_value == "true":
        return display
    if opts.display_value == "all":
        return {"display_value": display, "value": value}
    return value
