"""A ServiceNow table's fields, read from the instance's dictionary (`im integration fields`).

`sys_dictionary` has one row per column and defining table (incident inherits task's columns:
`nameINincident,task`; the nearest table's row wins). `sys_choice` holds the options of the
columns with a choice list (`choice` set in the dictionary), per table as well. Both are read
through the Table API like any table.

`allowed` lists each choice's *value* (`1`, `inquiry`), not its label (`1 - High`,
`Inquiry / Help`): the Table API takes and returns values (`sysparm_display_value=false`),
and value maps name them. The label is what people see; the value is what a mapping writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from incident_sync.connectors.servicenow.client import ServiceNowClient
from incident_sync.syncmodel.discovered import FieldKind, ToolField

DICTIONARY_FIELDS: Final = (
    "name", "element", "column_label", "internal_type", "mandatory", "max_length", "reference",
    "read_only", "choice",
)  # fmt: skip
PAGE: Final = 1000  # dictionary rows per request: a task table has a few hundred columns

# Internal types (`sys_glide_object`) by the kind of value they hold. Text on many lines: the
# journals and the large text types; numbers: every numeric type. Not listed: `string`.
_KINDS: Final[Mapping[str, FieldKind]] = {
    **dict.fromkeys(
        ("journal", "journal_input", "journal_list", "html", "translated_html", "script",
         "script_plain", "wiki_text", "multi_two_lines"), "text"),
    **dict.fromkeys(
        ("integer", "longint", "decimal", "float", "currency", "price", "percent_complete",
         "order_index"), "number"),
    "boolean": "boolean",
    **dict.fromkeys(
        ("glide_date_time", "glide_date", "glide_time", "due_date", "calendar_date_time",
         "date", "datetime"), "datetime"),
    "reference": "reference",
    "glide_list": "options",  # a list of references (watch_list, group_list)
    "choice": "option",
}  # fmt: skip
# A choice list on a column of another type (`choice` 1: drop-down with None, 3: drop-down
# without None, 2: suggestion): the column takes one of the choices. 0 / empty: no list.
_CHOICE_LISTS: Final = frozenset({"1", "3"})
_USER_TABLES: Final = frozenset({"sys_user"})
# Text types whose max_length is a limit a value is cut to; for the others (references,
# numbers, booleans) it is the storage size, nothing a mapping writes against.
_LENGTH_KINDS: Final = frozenset({"string", "text"})


def kind_of(internal_type: str, *, reference: str = "", choice: str = "") -> FieldKind:
    """The kind of a column of `internal_type`: a reference to a user table is a user; a
    column with a choice list is an option, whatever its storage type."""
    if choice in _CHOICE_LISTS and internal_type not in ("reference", "glide_list"):
        return "option"
    kind = _KINDS.get(internal_type, "string")
    if kind == "reference" and reference in _USER_TABLES:
        return "user"
    return kind


def _nearest(rows: Iterable[Mapping[str, str]], tables: Sequence[str]) -> dict[str, dict[str, str]]:
    """element -> the row of the nearest table defining it (`tables` nearest first)."""
    rank = {t: n for n, t in enumerate(tables)}
    out: dict[str, dict[str, str]] = {}
    for row in sorted(rows, key=lambda r: -rank.get(r.get("name", ""), len(tables))):
        if (element := row.get("element", "")) and row.get("name") in rank:
            out[element] = dict(row)  # nearer tables come last: they override
    return out


def tool_fields(
    dictionary: Iterable[Mapping[str, str]],
    choices: Iterable[Mapping[str, str]],
    tables: Sequence[str],
) -> list[ToolField]:
    """The fields of `tables[0]` from its dictionary rows and choice rows (of it and the
    tables it extends, `tables` nearest first), in element order."""
    columns = _nearest(dictionary, tables)
    rank = {t: n for n, t in enumerate(tables)}
    lists: dict[str, tuple[int, list[tuple[float, str]]]] = {}
    for row in choices:
        element, value = row.get("element", ""), row.get("value", "")
        table_rank = rank.get(row.get("name", ""))
        if not element or table_rank is None:
            continue
        held = lists.get(element)
        if held is None or table_rank < held[0]:  # a nearer table's list replaces the other's
            lists[element] = held = (table_rank, [])
        if table_rank == held[0]:
            held[1].append((_sequence(row.get("sequence", "")), value))
    out = []
    for element, row in sorted(columns.items()):
        reference = row.get("reference", "")
        kind = kind_of(
            row.get("internal_type", ""), reference=reference, choice=row.get("choice", "")
        )
        listed = lists.get(element)
        allowed = None
        if kind == "option":
            allowed = tuple(v for _, v in sorted(listed[1])) if listed else ()
        length = row.get("max_length", "")
        limited = kind in _LENGTH_KINDS and length.isdigit() and int(length) > 0
        out.append(
            ToolField(
                name=element,
                label=row.get("column_label", "")[:200],
                kind=kind,
                required=row.get("mandatory") == "true",
                allowed=allowed,
                max_length=int(length) if limited else None,
                reference=reference or None,
                writable=row.get("read_only") != "true",
            )
        )
    return out


def _sequence(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")  # unordered choices after the ordered ones, by value


async def read_fields(client: ServiceNowClient, tables: Sequence[str]) -> list[ToolField]:
    """The fields of `tables[0]` as the instance's dictionary describes them (every page)."""
    names = ",".join(tables)
    dictionary: list[dict[str, str]] = []
    while True:
        rows = await client.query(
            "sys_dictionary",
            f"nameIN{names}^internal_type!=collection^ORDERBYelement",
            limit=PAGE,
            offset=len(dictionary),
            fields=list(DICTIONARY_FIELDS),
        )
        dictionary += rows
        if len(rows) < PAGE:
            break
    listed = sorted({r.get("element", "") for r in dictionary if r.get("choice") in _CHOICE_LISTS})
    choices: list[dict[str, str]] = []
    while listed:
        rows = await client.query(
            "sys_choice",
            f"nameIN{names}^elementIN{','.join(listed)}^inactive=false^language=en^ORDERBYsequence",
            limit=PAGE,
            offset=len(choices),
            fields=["name", "element", "value", "label", "sequence"],
        )
        choices += rows
        if len(rows) < PAGE:
            break
    return tool_fields(dictionary, choices, tables)
