"""JQL clauses beyond the search's basic subset: `id in (...)` / `key in (...)` (batched
reads) and `updated >= <time>` (what changed lately), with relative times as Jira takes them."""

from __future__ import annotations

import operator
import re
from datetime import UTC, datetime, timedelta

from incident_sync.sandbox.ids import now as utcnow
from incident_sync.sandbox.jira.store import Issue
from incident_sync.sandbox.jira.values import JiraError

_IN = re.compile(r"^\s*(?P<field>id|key|issue|issuekey)\s+in\s*\((?P<values>[^)]*)\)\s*$",
                 re.IGNORECASE)  # fmt: skip
_UPDATED = re.compile(r'^\s*updated\s*(?P<op>>=|>|<=|<)\s*"?(?P<value>[^"]+?)"?\s*$',
                      re.IGNORECASE)  # fmt: skip
_RELATIVE = re.compile(r"^(?P<sign>[-+]?)(?P<n>\d+)(?P<unit>[mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _jql_time(value: str) -> datetime:
    """A relative time (`-5m`, `-2h`) from now, or `yyyy/MM/dd HH:mm` / `yyyy-MM-dd HH:mm`
    (the sandbox's time zone is UTC)."""
    if m := _RELATIVE.match(value.strip()):
        seconds = int(m["n"]) * _UNITS[m["unit"]]
        return utcnow() + timedelta(seconds=-seconds if m["sign"] == "-" else seconds)
    for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise JiraError(f"Date value '{value}' for field 'updated' is invalid.")


def other_clause(issue: Issue, clause: str) -> bool | None:
    """`id in (...)` / `key in (...)` and `updated >= ...`; None when it is neither."""
    if m := _IN.match(clause):
        values = {v.strip().strip('"') for v in m["values"].split(",") if v.strip()}
        return issue.id in values or issue.key in values
    if m := _UPDATED.match(clause):
        return bool(_COMPARE[m["op"]](issue.updated, _jql_time(m["value"])))
    return None
