"""Encoded queries (`sysparm_query`): parse once, then filter and order records.

`^` is AND, `^OR` binds tighter (`a^ORb^c` = (a or b) and c), `^NQ` starts an OR-ed new
query. Terms naming unknown fields are ignored, as ServiceNow does by default.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Record = Mapping[str, str]

# Longest first, so "NOT IN" is not read as "IN" or ">=" as ">".
_OPERATORS = ("ISNOTEMPTY", "ISEMPTY", "NOT IN", "NOT LIKE", "STARTSWITH", "ENDSWITH",
              "LIKE", "IN", "!=", ">=", "<=", "=", ">", "<")  # fmt: skip
_COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str

    def matches(self, record: Record) -> bool:
        actual = record.get(self.field, "")
        value = self.value
        match self.op:
            case "=":
                return actual == value
            case "!=":
                return actual != value
            case "IN":
                return actual in value.split(",")
            case "NOT IN":
                return actual not in value.split(",")
            case "LIKE":
                return value.lower() in actual.lower()
            case "NOT LIKE":
                return value.lower() not in actual.lower()
            case "STARTSWITH":
                return actual.lower().startswith(value.lower())
            case "ENDSWITH":
                return actual.lower().endswith(value.lower())
            case "ISEMPTY":
                return actual == ""
            case "ISNOTEMPTY":
                return actual != ""
        return _compare(actual, value, self.op)


def _compare(actual: str, value: str, op: str) -> bool:
    """Numbers compare as numbers, everything else (e.g. glide date-times) as text."""
    left: float | str = actual
    right: float | str = value
    try:
        left, right = float(actual), float(value)
    except ValueError:
        if actual == "":
            return False  # an empty value is never greater or less than anything
    compare: Callable[[Any, Any], bool] = _COMPARISONS[op]
    return compare(left, right)


@dataclass
class Query:
    # OR of queries (^NQ); each is an AND of groups; each group is an OR of terms.
    alternatives: list[list[list[Term]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)

    def matches(self, record: Record) -> bool:
        if not self.alternatives:
            return True
        return any(
            all(any(t.matches(record) for t in group) for group in conjunction)
            for conjunction in self.alternatives
        )

    def apply(self, records: Iterable[Record]) -> list[Record]:
        out = [r for r in records if self.matches(r)]
        for name, descending in reversed(self.order):  # stable sorts: last key first
            out.sort(key=_by(name), reverse=descending)
        return out


def _by(name: str) -> Callable[[Record], tuple[int, float, str]]:
    return lambda record: _sort_key(record.get(name, ""))


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def parse_term(text: str) -> Term | None:
    m = _FIELD.match(text)
    if m is None:
        return None
    rest = text[m.end() :]
    for op in _OPERATORS:
        if rest.startswith(op):
            return Term(m.group(), op, rest[len(op) :].strip() if " " in op else rest[len(op) :])
    return None


def parse(encoded: str, columns: frozenset[str]) -> Query:
    query = Query()
    for part in encoded.split("^NQ"):
        conjunction: list[list[Term]] = []
        for raw in part.split("^"):
            if not raw:
                continue
            if raw.startswith("ORDERBYDESC"):
                query.order.append((raw.removeprefix("ORDERBYDESC"), True))
                continue
            if raw.startswith("ORDERBY"):
                query.order.append((raw.removeprefix("ORDERBY"), False))
                continue
            is_or = raw.startswith("OR") and conjunction
            term = parse_term(raw[2:] if is_or else raw)
            if term is None or term.field not in columns:
                continue  # invalid parts are silently ignored
            if is_or:
                conjunction[-1].append(term)
            else:
                conjunction.append([term])
        if conjunction:
            query.alternatives.append(conjunction)
    return query
