"""Reference columns of declared field maps (`assignment_group`, `cmdb_ci`, ...): written by
the display value people know (a group's or a CI's name), stored by the instance as the
referenced record's sys_id.

Which columns are references, and to which table, comes from the instance's dictionary (the
same read as `im integration fields`), once per connector. A name is turned into its sys_id
and back through the Table API (`name=<value>` on the referenced table, `name` being the
display column of the groups, CIs and services a mapping targets), each answer cached for the
connector's life: groups and CIs are renamed rarely, and a config change builds a new
connector. A name with no record, or with several, is reported (a non-retryable ToolError
naming the column and the value), never written as text the column would hold as garbage.
Users (`sys_user`) are the assignee's mapping, by e-mail, and are not resolved here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.servicenow.client import ServiceNowClient
from incident_sync.syncmodel.discovered import ToolField

# A name spliced into an encoded query: `^` would start a new condition, a newline end it.
_SPLICEABLE: Final = re.compile(r"^[^\^\r\n]{1,255}$")
_SYS_ID: Final = re.compile(r"^[0-9a-f]{32}$")


def reference_tables(fields: Iterable[ToolField], columns: Iterable[str]) -> dict[str, str]:
    """column -> referenced table, for those of `columns` the dictionary says are references
    (not to users)."""
    wanted = set(columns)
    return {
        f.name: f.reference
        for f in fields
        if f.name in wanted and f.kind == "reference" and f.reference
    }


class References:
    """Names <-> sys_ids of referenced records, cached (see the module docstring)."""

    def __init__(self, client: ServiceNowClient, tables: Mapping[str, str]) -> None:
        self._client = client
        self.tables = dict(tables)  # column -> referenced table
        self._ids: dict[tuple[str, str], str] = {}
        self._names: dict[tuple[str, str], str | None] = {}

    async def to_sys_ids(self, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """`values` with each reference column's name replaced by its record's sys_id."""
        out = dict(values)
        for column, table in self.tables.items():
            name = values.get(column)
            if name:
                out[column] = await self._sys_id(column, table, name)
        return out

    async def to_names(self, row: Mapping[str, str]) -> dict[str, str]:
        """`row` with each reference column's sys_id replaced by its record's name; a column
        whose record is gone is left out (not known), rather than read as its sys_id."""
        out = dict(row)
        for column, table in self.tables.items():
            sys_id = row.get(column)
            if not sys_id:
                continue
            name = await self._name(table, sys_id)
            if name is None:
                out.pop(column)
            else:
                out[column] = name
        return out

    async def _sys_id(self, column: str, table: str, name: str) -> str:
        key = (table, name)
        if key in self._ids:
            return self._ids[key]
        rows = []
        if _SPLICEABLE.match(name):
            rows = await self._client.query(table, f"name={name}", limit=2, fields=["sys_id"])
        if len(rows) != 1 or not _SYS_ID.match(rows[0].get("sys_id", "")):
            found = "several records" if len(rows) > 1 else "no record"
            raise ToolError(
                f"ServiceNow {column}: {found} of {table} named {name!r}", retryable=False
            )
        self._ids[key] = rows[0]["sys_id"]
        self._names[(table, rows[0]["sys_id"])] = name
        return self._ids[key]

    async def _name(self, table: str, sys_id: str) -> str | None:
        key = (table, sys_id)
        if key not in self._names:
            rows = []
            if _SYS_ID.match(sys_id):
                rows = await self._client.query(table, f"sys_id={sys_id}", limit=1, fields=["name"])
            self._names[key] = (rows[0].get("name") or None) if rows else None
        return self._names[key]
