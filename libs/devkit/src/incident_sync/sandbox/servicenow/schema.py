"""Tables, columns, defaults, references, choice lists and column lengths as a stock instance
has them.

Column lengths are the dictionary's `max_length` (`sys_dictionary`, readable through the Table
API like any table). On the platform a string column of at most 255 characters is a
fixed-size database column: a longer value is cut to the length when stored, silently. Longer
columns are large text columns, and their `max_length` is not enforced (ServiceNow KB0685779:
"Fields in ServiceNow accept string inputs greater than the sys_dictionary max_length value").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

JOURNAL_FIELDS: Final = ("work_notes", "comments")
SYSTEM_FIELDS: Final = frozenset(
    {"sys_id", "sys_created_on", "sys_created_by", "sys_updated_on", "sys_updated_by",
     "sys_mod_count", "sys_class_name", "sys_domain", "sys_domain_path", "sys_tags", "number"}
)  # fmt: skip
RESOLVED, CLOSED, CANCELED = "6", "7", "8"


def _words(text: str) -> list[str]:
    return text.split()


# Priority Lookup Rules, default matrix: (impact, urgency) -> priority.
PRIORITY: Final = {
    ("1", "1"): "1", ("1", "2"): "2", ("1", "3"): "3",
    ("2", "1"): "2", ("2", "2"): "3", ("2", "3"): "4",
    ("3", "1"): "3", ("3", "2"): "4", ("3", "3"): "5",
}  # fmt: skip

_INCIDENT_STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved",
                    "7": "Closed", "8": "Canceled"}  # fmt: skip
_HML = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
CHOICES: Final[dict[str, dict[str, str]]] = {
    "state": _INCIDENT_STATES,
    "incident_state": _INCIDENT_STATES,
    "impact": _HML,
    "urgency": _HML,
    "severity": _HML,
    "priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low",
                 "5": "5 - Planning"},
}  # fmt: skip

_TASK_REFERENCES = {
    "assigned_to": "sys_user", "assignment_group": "sys_user_group", "opened_by": "sys_user",
    "closed_by": "sys_user", "location": "cmn_location", "cmdb_ci": "cmdb_ci",
    "company": "core_company", "business_service": "cmdb_ci_service", "parent": "task",
    "sys_domain": "sys_user_group",
}  # fmt: skip

_INCIDENT_DEFAULTS = {
    "active": "true", "approval": "not requested", "category": "inquiry", "child_incidents": "0",
    "contact_type": "", "escalation": "0", "impact": "3", "incident_state": "1",
    "knowledge": "false", "made_sla": "true", "notify": "1", "priority": "5",
    "reassignment_count": "0", "reopen_count": "0", "severity": "3", "state": "1",
    "sys_class_name": "incident", "sys_domain": "global", "sys_domain_path": "/",
    "upon_approval": "proceed", "upon_reject": "cancel", "urgency": "3", "sys_mod_count": "0",
}  # fmt: skip
_INCIDENT_BLANK = _words(
    "additional_assignee_list activity_due approval_history approval_set assigned_to "
    "assignment_group business_duration business_service business_stc calendar_duration "
    "calendar_stc caller_id caused_by close_code close_notes closed_at closed_by cmdb_ci "
    "comments comments_and_work_notes company correlation_display correlation_id delivery_plan "
    "delivery_task description due_date expected_start follow_up group_list location number "
    "opened_at opened_by order parent parent_incident problem_id rejection_goto resolved_at "
    "resolved_by rfc sla_due short_description subcategory sys_created_by sys_created_on sys_id "
    "sys_tags sys_updated_by sys_updated_on time_worked u_incident_io_id upon_approval user_input "
    "watch_list wf_activity work_end work_notes work_notes_list work_start"
)

_CHANGE_DEFAULTS = {
    "active": "true", "approval": "not requested", "category": "Other", "impact": "3",
    "priority": "4", "risk": "3", "state": "-5", "type": "normal", "urgency": "3",
    "sys_class_name": "change_request", "sys_domain": "global", "sys_domain_path": "/",
    "sys_mod_count": "0",
}  # fmt: skip
_CHANGE_BLANK = _words(
    "assigned_to assignment_group close_code close_notes closed_at closed_by cmdb_ci comments "
    "correlation_id description end_date justification number opened_at opened_by "
    "requested_by short_description start_date sys_created_by sys_created_on sys_id sys_tags "
    "sys_updated_by sys_updated_on work_notes"
)


# Lengths a stock instance's dictionary gives the columns (where it defines them: the task
# columns on task). The custom correlation column is the one docs/servicenow-setup.md makes.
VARCHAR_MAX: Final = 255  # longest column that is cut to its length when stored
TASK_LENGTHS: Final = {
    "short_description": 160, "description": 4000, "number": 40, "close_notes": 4000,
    "work_notes": 4000, "comments": 4000, "correlation_id": 100, "correlation_display": 100,
}  # fmt: skip
INCIDENT_LENGTHS: Final = {"close_code": 40, "category": 40, "subcategory": 40,
                           "u_incident_io_id": 100}  # fmt: skip


@dataclass(frozen=True)
class Table:
    name: str
    prefix: str  # number prefix; "" = the table has no number
    first_number: int
    defaults: dict[str, str]
    references: dict[str, str]  # field -> referenced table
    journal: bool = True
    read_only: bool = False
    # column -> (the table whose dictionary entry defines it, its max_length)
    lengths: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.defaults)

    def blank(self) -> dict[str, str]:
        return dict(self.defaults)


TABLES: Final[dict[str, Table]] = {
    "incident": Table(
        "incident", "INC", 10001,
        {**dict.fromkeys(_INCIDENT_BLANK, ""), **_INCIDENT_DEFAULTS},
        {**_TASK_REFERENCES, "caller_id": "sys_user", "resolved_by": "sys_user",
         "problem_id": "problem", "parent_incident": "incident", "rfc": "change_request",
         "caused_by": "change_request"},
        lengths={**{c: ("task", n) for c, n in TASK_LENGTHS.items()},
                 **{c: ("incident", n) for c, n in INCIDENT_LENGTHS.items()}},
    ),
    "change_request": Table(
        "change_request", "CHG", 30001,
        {**dict.fromkeys(_CHANGE_BLANK, ""), **_CHANGE_DEFAULTS},
        {**_TASK_REFERENCES, "requested_by": "sys_user"},
        lengths={c: ("task", n) for c, n in TASK_LENGTHS.items() if c in _CHANGE_BLANK},
    ),
    "sys_journal_field": Table(
        "sys_journal_field", "", 0,
        dict.fromkeys(_words("sys_id element element_id name value sys_created_on sys_created_by "
                             "sys_mod_count sys_updated_on sys_updated_by"), ""),
        {}, journal=False, read_only=True,
    ),
    "sys_dictionary": Table(
        "sys_dictionary", "", 0,
        dict.fromkeys(_words("sys_id name element column_label internal_type max_length "
                             "mandatory reference read_only choice "
                             "sys_created_on sys_created_by sys_mod_count sys_updated_on "
                             "sys_updated_by"), ""),
        {}, journal=False, read_only=True,
    ),
    # What incidents reference: read-only here, seeded (`sandbox.servicenow.referenced`).
    "sys_user_group": Table(
        "sys_user_group", "", 0,
        dict.fromkeys(_words("sys_id name description active email manager "
                             "sys_created_on sys_created_by sys_mod_count sys_updated_on "
                             "sys_updated_by"), ""),
        {}, journal=False, read_only=True,
    ),
    "cmdb_ci": Table(
        "cmdb_ci", "", 0,
        dict.fromkeys(_words("sys_id name short_description active operational_status "
                             "sys_class_name sys_created_on sys_created_by sys_mod_count "
                             "sys_updated_on sys_updated_by"), ""),
        {}, journal=False, read_only=True,
    ),
    "sys_choice": Table(
        "sys_choice", "", 0,
        dict.fromkeys(_words("sys_id name element value label sequence inactive language "
                             "dependent_value sys_created_on sys_created_by sys_mod_count "
                             "sys_updated_on sys_updated_by"), ""),
        {}, journal=False, read_only=True,
    ),
}  # fmt: skip
