"""The screen fields the sandbox's issues keep beyond their own columns: a select custom field
(`customfield_10050`), a user picker (`customfield_10060`), a multi-select
(`customfield_10080`), `components` and `duedate`, in the shapes Jira Cloud's REST v3
documents for a create / edit body's `fields` ("Edit issue" / "Create issue": a select
`{"value": ...}` or `{"id": ...}`, a multi-select a list of those, a user `{"accountId":
...}`, components `[{"name": ...} | {"id": ...}]`, a date `"YYYY-MM-DD"`; `null` clears) and
as an issue's `fields` show them (an option `{"self", "value", "id"}`, a list of options, a
user object, components `[{"self", "id", "name"}]`; an empty multi-select is `null`). A
field on no screen of the issue's type is refused, a value of another shape or not among the
field's options is Jira's 400 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from incident_sync.sandbox.jira.sitefields import COMPONENTS, FIELDS, SCREENS, SERVICES, SEVERITIES
from incident_sync.sandbox.jira.values import JiraError

JSON = dict[str, Any]
# The screen fields the store keeps in its own columns (or that a create sets once).
OWN: Final = frozenset(
    {"project", "issuetype", "summary", "description", "priority", "assignee", "reporter"}
    | {"labels"}
)
OPTIONS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {"customfield_10050": SEVERITIES}
# Lists of options: field id -> (its options, the key naming one in a body)
LISTS: Final[Mapping[str, tuple[tuple[tuple[str, str], ...], str, str]]] = {
    "components": (COMPONENTS, "name", "/component/"),
    "customfield_10080": (SERVICES, "value", "/customFieldOption/"),
}
USERS: Final = frozenset({"customfield_10060"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BY_ID: Final = {f["id"]: f for f in FIELDS}


def kept(issue_type: str) -> frozenset[str]:
    """The fields of the issue type's screen kept here."""
    return frozenset(fid for fid, _ in SCREENS.get(issue_type, ())) - OWN


def unknown(name: str) -> JiraError:
    why = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
    return JiraError(errors={name: why})


def parse(field_id: str, value: object, user_exists: Callable[[str], bool]) -> Any:
    """The stored form of a body's `value` for `field_id` (an option id, an accountId, a
    list of component ids, a date), or JiraError."""
    if field_id in LISTS:
        options, key, _ = LISTS[field_id]
        if value is None and field_id != "components":
            return []
        if not isinstance(value, list):
            raise JiraError(errors={field_id: f"{field_id} must be an array"})
        return [_pick(field_id, item, options, key) for item in value]
    if value is None:
        return None
    if field_id in OPTIONS:
        return _pick(field_id, value, OPTIONS[field_id], "value")
    if field_id in USERS:
        account = value.get("accountId") if isinstance(value, dict) else None
        if not isinstance(account, str) or not user_exists(account):
            raise JiraError(errors={field_id: "Specify a valid accountId"})
        return account
    if field_id == "duedate":
        if not isinstance(value, str) or not _DATE.match(value):
            raise JiraError(errors={field_id: "Error parsing date string: " + str(value)})
        return value
    raise unknown(field_id)


def _pick(field_id: str, ref: object, options: tuple[tuple[str, str], ...], key: str) -> str:
    if isinstance(ref, dict):
        for oid, name in options:
            if ref.get("id") == oid or ref.get(key) == name:
                return oid
    shown = ref.get(key, ref.get("id")) if isinstance(ref, dict) else ref
    raise JiraError(errors={field_id: f"Option value '{shown}' is not valid"})


def render(
    field_id: str, stored: Any, api: Callable[[str], str], user: Callable[[str], JSON | None]
) -> Any:
    """How an issue's `fields` show the stored value (`api`: a path -> its REST link)."""
    if field_id in LISTS:
        options, key, path = LISTS[field_id]
        names = dict(options)
        shown = [{"self": api(f"{path}{c}"), "id": c, key: names[c]} for c in stored or []]
        return shown if shown or field_id == "components" else None  # an empty custom: null
    if stored is None:
        return None
    if field_id in OPTIONS:
        value = dict(OPTIONS[field_id])[stored]
        return {"self": api(f"/customFieldOption/{stored}"), "value": value, "id": stored}
    if field_id in USERS:
        return user(stored)
    return stored


def text(field_id: str, stored: Any, display_name: Callable[[str], str | None]) -> str | None:
    """The changelog's `fromString` / `toString` of a stored value."""
    if field_id in LISTS:
        names = dict(LISTS[field_id][0])
        return ", ".join(names[c] for c in stored) if stored else None
    if stored is None:
        return None
    if field_id in OPTIONS:
        return dict(OPTIONS[field_id])[stored]
    if field_id in USERS:
        return display_name(stored)
    return str(stored)


def changelog_item(
    field_id: str, old: Any, new: Any, display_name: Callable[[str], str | None]
) -> JSON:
    """A changelog item as Jira writes one: a custom field by its name, `fieldtype: custom`."""
    field = _BY_ID[field_id]
    custom = bool(field["custom"])

    def ids(stored: Any) -> str | None:
        if isinstance(stored, list):
            return ", ".join(stored) or None
        return stored if isinstance(stored, str) or stored is None else str(stored)

    return {
        "field": field["name"] if custom else field_id,
        "fieldtype": "custom" if custom else "jira",
        "fieldId": field_id,
        "from": ids(old),
        "fromString": text(field_id, old, display_name),
        "to": ids(new),
        "toString": text(field_id, new, display_name),
    }
