"""The Jira stand-in's site fields (FieldDetails, as `GET /rest/api/3/field` lists them) and
the create screen of each issue type: the one project's Incident screen has the system fields
and two custom fields, a select (`customfield_10050`, "Severity") and a user picker
(`customfield_10060`), and a multi-select (`customfield_10080`, "Affected services"); another
custom field (`customfield_10070`, a number) exists on no screen of the project."""

from __future__ import annotations

from typing import Any, Final

JSON = dict[str, Any]
CUSTOM: Final = "com.atlassian.jira.plugin.system.customfieldtypes:"
COMPONENTS: Final = (("10100", "API"), ("10101", "Database"), ("10102", "Frontend"))
SEVERITIES: Final = (("10200", "Critical"), ("10201", "Major"), ("10202", "Minor"))
SERVICES: Final = (("10300", "checkout"), ("10301", "payments"), ("10302", "search"))


def _system(fid: str, name: str, type_: str, items: str | None = None) -> JSON:
    schema: JSON = {"type": type_, "system": fid}
    if items:
        schema["items"] = items
    return {"id": fid, "key": fid, "name": name, "custom": False, "schema": schema}


def _custom(number: int, name: str, type_: str, custom: str, items: str | None = None) -> JSON:
    fid = f"customfield_{number}"
    schema: JSON = {"type": type_, "custom": CUSTOM + custom, "customId": number}
    if items:
        schema["items"] = items
    return {"id": fid, "key": fid, "name": name, "custom": True, "schema": schema}


FIELDS: Final[tuple[JSON, ...]] = (
    _system("summary", "Summary", "string"),
    _system("description", "Description", "string"),
    _system("issuetype", "Issue Type", "issuetype"),
    _system("project", "Project", "project"),
    _system("priority", "Priority", "priority"),
    _system("assignee", "Assignee", "user"),
    _system("reporter", "Reporter", "user"),
    _system("labels", "Labels", "array", "string"),
    _system("components", "Components", "array", "component"),
    _system("duedate", "Due date", "date"),
    _system("status", "Status", "status"),
    _system("resolution", "Resolution", "resolution"),
    _system("created", "Created", "datetime"),
    _system("updated", "Updated", "datetime"),
    _custom(10050, "Severity", "option", "select"),
    _custom(10060, "On-call engineer", "user", "userpicker"),
    _custom(10070, "Story points", "number", "float"),
    _custom(10080, "Affected services", "array", "multiselect", items="option"),
)
# The create screen of each issue type: (field id, required)
SCREENS: Final[dict[str, tuple[tuple[str, bool], ...]]] = {
    "10001": (
        ("project", True),
        ("issuetype", True),
        ("summary", True),
        ("description", False),
        ("priority", False),
        ("assignee", False),
        ("reporter", True),
        ("labels", False),
        ("components", False),
        ("duedate", False),
        ("customfield_10050", True),
        ("customfield_10060", False),
        ("customfield_10080", False),
    ),
    "10002": (
        ("project", True),
        ("issuetype", True),
        ("summary", True),
        ("description", False),
        ("priority", False),
        ("assignee", False),
        ("labels", False),
    ),
}
