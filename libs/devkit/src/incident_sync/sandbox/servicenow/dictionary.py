"""The instance's dictionary (`sys_dictionary`) and choice lists (`sys_choice`) as a stock
instance has them for the tables the sandbox models: one dictionary row per column and
defining table (task's columns on task, incident's own on incident), with its internal type,
label, length, reference and whether it has a choice list; one choice row per option.

A stock dictionary makes no incident column mandatory (the form's UI policies do, which the
Table API does not see), so `mandatory` is "false" unless the instance's administrators set
it (`Customizations.mandatory`). System columns are read-only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Final

from incident_sync.sandbox.servicenow.schema import CHOICES, SYSTEM_FIELDS, TABLES, Table

# internal_type of each column a modelled table has; absent: `string`.
_TYPES: Final[Mapping[str, str]] = {
    **dict.fromkeys(
        ("active", "knowledge", "made_sla"), "boolean"),
    **dict.fromkeys(
        ("approval_set", "closed_at", "due_date", "expected_start", "follow_up", "opened_at",
         "resolved_at", "sys_created_on", "sys_updated_on", "work_end", "work_start",
         "start_date", "end_date"), "glide_date_time"),
    **dict.fromkeys(("activity_due", "sla_due"), "due_date"),
    **dict.fromkeys(("business_duration", "calendar_duration"), "glide_duration"),
    "time_worked": "timer",
    **dict.fromkeys(
        ("business_stc", "calendar_stc", "child_incidents", "escalation", "hold_reason",
         "impact", "incident_state", "notify", "order", "priority", "reassignment_count",
         "reopen_count", "severity", "state", "sys_mod_count", "urgency", "risk"), "integer"),
    **dict.fromkeys(("comments", "work_notes"), "journal_input"),
    "comments_and_work_notes": "journal_list",
    "approval_history": "journal",
    **dict.fromkeys(
        ("additional_assignee_list", "group_list", "watch_list", "work_notes_list"),
        "glide_list"),
    "sys_id": "GUID",
    "sys_class_name": "sys_class_name",
    "sys_domain": "domain_id",
    "sys_domain_path": "domain_path",
    "user_input": "user_input",
}  # fmt: skip
# Choice lists beyond the coded ones of `schema.CHOICES` (value -> label), as stock.
_MORE_CHOICES: Final[Mapping[str, Mapping[str, str]]] = {
    "category": {"inquiry": "Inquiry / Help", "software": "Software", "hardware": "Hardware",
                 "network": "Network", "database": "Database"},
    "close_code": {"Solution provided": "Solution provided",
                   "Workaround provided": "Workaround provided",
                   "Duplicate": "Duplicate", "Known error": "Known error",
                   "User error": "User error", "No resolution provided": "No resolution provided"},
    "contact_type": {"email": "Email", "phone": "Phone", "self-service": "Self-service",
                     "walk-in": "Walk-in", "virtual_agent": "Virtual Agent"},
    "hold_reason": {"1": "Awaiting Caller", "5": "Awaiting Change", "3": "Awaiting Problem",
                    "4": "Awaiting Vendor"},
}  # fmt: skip
# The table whose dictionary defines a column the incident table has from task; the others
# are incident's own.
_INCIDENT_OWN: Final = frozenset(
    {"business_stc", "calendar_stc", "caller_id", "category", "caused_by", "child_incidents",
     "close_code", "hold_reason", "incident_state", "notify", "parent_incident", "problem_id",
     "reopen_count", "resolved_at", "resolved_by", "rfc", "severity", "subcategory",
     "u_incident_io_id"}
)  # fmt: skip
_CHANGE_OWN: Final = frozenset(
    {"type", "risk", "justification", "requested_by", "start_date", "end_date", "category"}
)
# The label a stock instance gives a column where it is not its name in words.
_LABELS: Final[Mapping[str, str]] = {
    "cmdb_ci": "Configuration item", "caller_id": "Caller", "close_code": "Resolution code",
    "close_notes": "Resolution notes", "business_service": "Service", "contact_type": "Channel",
    "problem_id": "Problem", "rfc": "Change Request", "caused_by": "Caused by Change",
    "u_incident_io_id": "incident.io ID", "sys_id": "Sys ID",
}  # fmt: skip


def choices_of(column: str) -> Mapping[str, str]:
    """A column's choice list (value -> label); empty when it has none."""
    return CHOICES.get(column) or _MORE_CHOICES.get(column) or {}


def owner(table: Table, column: str) -> str:
    """The table whose dictionary entry defines `table`'s `column`."""
    own = {"incident": _INCIDENT_OWN, "change_request": _CHANGE_OWN}.get(table.name)
    if own is None or column in own:
        return table.name
    return "task"


def _key(*parts: str) -> str:
    return hashlib.sha256(".".join(parts).encode()).hexdigest()[:32]


def dictionary_rows(
    blank: Mapping[str, str],
    length: Callable[[Table, str], int | None],
    mandatory: Collection[str],
) -> Iterator[dict[str, str]]:
    """One `sys_dictionary` row per (defining table, column) of the task tables; `length`:
    a column's max_length (None: the sandbox gives it none, so the row says none);
    `mandatory`: "table.column" of the defining table."""
    seen: set[str] = set()
    for table in TABLES.values():
        if not table.prefix:  # the system tables are not described
            continue
        for column in sorted(table.columns):
            where = owner(table, column)
            if f"{where}.{column}" in seen or column == "sys_tags":
                continue
            seen.add(f"{where}.{column}")
            reference = table.references.get(column, "")
            kind = "reference" if reference else _TYPES.get(column, "string")
            yield {
                **blank,
                "sys_id": _key(where, column),
                "name": where,
                "element": column,
                "column_label": _LABELS.get(column) or column.replace("_", " ").capitalize(),
                "internal_type": kind,
                "max_length": "" if (n := length(table, column)) is None else str(n),
                "mandatory": "true" if f"{where}.{column}" in mandatory else "false",
                "reference": reference,
                "read_only": "true" if column in SYSTEM_FIELDS else "false",
                "choice": "3" if choices_of(column) else "0",
            }


def choice_rows(blank: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """One `sys_choice` row per option of each column with a choice list, on the table
    whose dictionary defines the column (English, active)."""
    done: set[str] = set()
    for table in TABLES.values():
        if not table.prefix:
            continue
        for column in sorted(table.columns):
            where = owner(table, column)
            if f"{where}.{column}" in done:
                continue
            done.add(f"{where}.{column}")
            for n, (value, label) in enumerate(choices_of(column).items(), start=1):
                yield {
                    **blank,
                    "sys_id": _key("choice", where, column, value),
                    "name": where,
                    "element": column,
                    "value": value,
                    "label": label,
                    "sequence": str(n * 10),
                    "inactive": "false",
                    "language": "en",
                }
