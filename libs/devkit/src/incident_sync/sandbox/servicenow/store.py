"""In-memory tables with the platform's write semantics: computed fields, journal entries,
state lifecycle, sys_* bookkeeping and what changed (for the business-rule webhook)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from incident_sync.sandbox.ids import glide, now, sys_id
from incident_sync.sandbox.servicenow import dictionary, referenced
from incident_sync.sandbox.servicenow.schema import (
    CANCELED,
    CLOSED,
    JOURNAL_FIELDS,
    PRIORITY,
    RESOLVED,
    SYSTEM_FIELDS,
    TABLES,
    VARCHAR_MAX,
    Table,
)

Row = dict[str, str]
# Fields the platform sets itself on insert; they are not "set by the insert".
_IMPLICIT_ON_INSERT = frozenset({"opened_at", "opened_by", "caller_id"})


@dataclass(frozen=True)
class Actor:
    user_name: str
    sys_id: str


class DataPolicyError(Exception):
    pass


@dataclass(frozen=True)
class Write:
    table: str
    event: str  # "inserted" | "updated" | "deleted"
    record: Row  # after the write (before it, for a delete)
    user: str
    updated_fields: list[str] = field(default_factory=list)
    old_values: Row = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.event != "updated" or bool(self.updated_fields)


def to_text(value: Any) -> str:
    """The Table API stores everything as strings; references may arrive as objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return to_text(value.get("value", ""))
    return str(value)


@dataclass
class Customizations:
    """What an instance's administrators changed: column lengths in the dictionary
    (`"incident.short_description"` -> max_length) and a before business rule on incident that
    collapses runs of spaces in the listed columns (and trims them), as customers add to keep
    their data tidy; columns the dictionary makes mandatory ("table.column"). A stock instance
    has none of these."""

    lengths: dict[str, int] = field(default_factory=dict)
    collapse_spaces: set[str] = field(default_factory=set)
    mandatory: set[str] = field(default_factory=set)  # "table.column" the dictionary requires


class TableStore:
    def __init__(
        self, require_close_fields: bool = False, custom: Customizations | None = None
    ) -> None:
        self.require_close_fields = require_close_fields
        self.custom = custom or Customizations()
        self.rows: dict[str, dict[str, Row]] = {name: {} for name in TABLES}
        self.numbers = {name: t.first_number for name, t in TABLES.items()}
        self.api_writes: Counter[str] = Counter()
        self.api_write_log: list[dict[str, Any]] = []
        self.refresh_dictionary()

    def reset(self) -> None:
        for rows in self.rows.values():
            rows.clear()
        self.numbers = {name: t.first_number for name, t in TABLES.items()}
        self.api_writes.clear()
        self.api_write_log.clear()
        self.refresh_dictionary()

    # -- the dictionary ----------------------------------------------------------------------
    def max_length(self, table: Table, column: str) -> int | None:
        defined = table.lengths.get(column)
        if defined is None:
            return None
        owner, length = defined
        return self.custom.lengths.get(f"{owner}.{column}", length)

    def refresh_dictionary(self) -> None:
        """`sys_dictionary` and `sys_choice` rows for the modelled tables' columns (one per
        defining table: `sandbox.servicenow.dictionary`), with the lengths in force."""
        for name, rows in (
            ("sys_dictionary", dictionary.dictionary_rows(
                TABLES["sys_dictionary"].blank(), self.max_length, self.custom.mandatory)),
            ("sys_choice", dictionary.choice_rows(TABLES["sys_choice"].blank())),
        ):  # fmt: skip
            self.rows[name] = {row["sys_id"]: row for row in rows}
        for name in referenced.SEEDED:
            rows = referenced.seeded_rows(name, TABLES[name].blank())
            self.rows[name] = {row["sys_id"]: row for row in rows}

    def record_api_write(
        self, table: str, key: str, op: str, body: Mapping[str, Any] | None = None
    ) -> None:
        """Count an API write; the log keeps what was written and when (`t`: unix time with
        sub-second precision, for latency measurements)."""
        body = body or {}
        self.api_writes[key] += 1
        self.api_write_log.append(
            {
                "id": key,
                "table": table,
                "op": op,
                "fields": sorted(body),
                "values": dict(body),
                "at": glide(now()),
                "t": time.time(),
            }
        )

    def get(self, table: str, key: str) -> Row | None:
        return self.rows[table].get(key)

    def journal(self, key: str, element: str | None = None) -> list[Row]:
        """Journal entries of one record, oldest first."""
        return [
            e
            for e in self.rows["sys_journal_field"].values()
            if e["element_id"] == key and (element is None or e["element"] == element)
        ]

    def latest_journal(self, key: str, element: str) -> str:
        entries = self.journal(key, element)
        return entries[-1]["value"] if entries else ""

    # -- writes --------------------------------------------------------------------------
    def insert(self, table_name: str, body: Mapping[str, Any], actor: Actor) -> Write:
        table = TABLES[table_name]
        stamp = glide(now())
        base = table.blank()
        base.update(
            sys_id=sys_id(),
            sys_created_on=stamp,
            sys_created_by=actor.user_name,
            sys_updated_on=stamp,
            sys_updated_by=actor.user_name,
            opened_at=stamp,
            opened_by=actor.sys_id,
        )
        if table.prefix:
            base["number"] = f"{table.prefix}{self.numbers[table_name]:07d}"
            self.numbers[table_name] += 1
        new, notes = self._apply(table, base, body, actor, stamp)
        provided = {k for k in body if k in new or k in notes}
        fields = [
            k
            for k in new
            if k not in SYSTEM_FIELDS
            and new[k] != ""
            and (k in provided or (new[k] != base[k] and k not in _IMPLICIT_ON_INSERT))
        ]
        self.rows[table_name][new["sys_id"]] = new
        for element, text in notes.items():
            self._add_journal(table_name, new["sys_id"], element, text, actor, stamp)
        return Write(table_name, "inserted", dict(new), actor.user_name, fields + list(notes))

    def update(self, table_name: str, key: str, body: Mapping[str, Any], actor: Actor) -> Write:
        table = TABLES[table_name]
        current = self.rows[table_name][key]
        stamp = glide(now())
        new, notes = self._apply(table, current, body, actor, stamp)
        fields = [k for k in new if new[k] != current[k] and k not in SYSTEM_FIELDS]
        old = {k: current[k] for k in fields}
        for element in notes:
            old[element] = self.latest_journal(key, element)
        if not fields and not notes:
            # Nothing differs: the platform skips the update and no business rule runs.
            return Write(table_name, "updated", dict(current), actor.user_name)
        new.update(
            sys_updated_on=stamp,
            sys_updated_by=actor.user_name,
            sys_mod_count=str(int(current["sys_mod_count"] or "0") + 1),
        )
        current.update(new)
        for element, text in notes.items():
            self._add_journal(table_name, key, element, text, actor, stamp)
        return Write(
            table_name, "updated", dict(current), actor.user_name, fields + list(notes), old
        )

    def delete(self, table_name: str, key: str, actor: Actor) -> Write:
        row = self.rows[table_name].pop(key)
        return Write(table_name, "deleted", row, actor.user_name)

    def _apply(
        self, table: Table, current: Row, body: Mapping[str, Any], actor: Actor, stamp: str
    ) -> tuple[Row, dict[str, str]]:
        """The record after `body` is applied, and journal entries to add (element -> text)."""
        new = dict(current)
        notes: dict[str, str] = {}
        for name, raw in body.items():
            if name not in table.columns or name in SYSTEM_FIELDS:
                continue  # unknown and system fields are ignored, as the platform does
            if name == "priority" and table.name == "incident":
                continue  # read-only: computed by the priority lookup rules
            value = to_text(raw)
            if name in JOURNAL_FIELDS:
                if value.strip():
                    notes[name] = value
                continue
            if table.name == "incident" and name in self.custom.collapse_spaces:
                value = re.sub(r" {2,}", " ", value).strip()  # the customer's business rule
            length = self.max_length(table, name)
            if length is not None and length <= VARCHAR_MAX:
                value = value[:length]  # a fixed-size column keeps what fits, silently
            new[name] = value
        if table.name == "incident":
            self._incident_rules(current, new, body, actor, stamp)
        return new, notes

    def _incident_rules(
        self, current: Row, new: Row, body: Mapping[str, Any], actor: Actor, stamp: str
    ) -> None:
        if "state" not in body and "incident_state" in body:
            new["state"] = new["incident_state"]
        new["incident_state"] = new["state"]  # the legacy field mirrors state
        new["priority"] = PRIORITY.get((new["impact"], new["urgency"]), new["priority"])
        old_state, state = current["state"], new["state"]
        if state != old_state:
            if state in (RESOLVED, CLOSED) and not new["resolved_at"]:
                new["resolved_at"], new["resolved_by"] = stamp, actor.sys_id
            if state == CLOSED and not new["closed_at"]:
                new["closed_at"], new["closed_by"] = stamp, actor.sys_id
            if old_state in (RESOLVED, CLOSED) and state not in (RESOLVED, CLOSED, CANCELED):
                for name in ("resolved_at", "resolved_by", "closed_at", "closed_by"):
                    new[name] = ""
                new["reopen_count"] = str(int(new["reopen_count"] or "0") + 1)
            new["active"] = "false" if state in (CLOSED, CANCELED) else "true"
        # On insert `current` is the blank record (state "1"), so inserting resolved counts.
        if self.require_close_fields and state in (RESOLVED, CLOSED) and state != old_state:
            missing = [n for n in ("close_code", "close_notes") if not new[n].strip()]
            if missing:
                labels = {"close_code": "Resolution code", "close_notes": "Resolution notes"}
                names = ", ".join(labels[m] for m in missing)
                raise DataPolicyError(
                    f"Data Policy Exception: \n\tThe following fields are mandatory: {names}\n"
                )

    def _add_journal(
        self, table: str, key: str, element: str, text: str, actor: Actor, stamp: str
    ) -> None:
        entry = {
            "sys_id": sys_id(),
            "element": element,
            "element_id": key,
            "name": table,
            "value": text,
            "sys_created_on": stamp,
            "sys_created_by": actor.user_name,
            "sys_mod_count": "0",
            "sys_updated_on": stamp,
            "sys_updated_by": actor.user_name,
        }
        self.rows["sys_journal_field"][entry["sys_id"]] = entry
