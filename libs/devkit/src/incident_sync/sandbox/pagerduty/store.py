"""In-memory PagerDuty: users, escalation policies, one service, priorities, incidents, notes."""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from incident_sync.sandbox.ids import now as utcnow

JSON = dict[str, Any]
STATUSES = ("triggered", "acknowledged", "resolved")
PRIORITIES: tuple[tuple[str, str], ...] = (
    ("PSANDP1", "P1"),
    ("PSANDP2", "P2"),
    ("PSANDP3", "P3"),
    ("PSANDP4", "P4"),
    ("PSANDP5", "P5"),
)
# Webhook event -> the log entry type the change leaves in the incident's log.
LOG_TYPES = {
    "incident.acknowledged": "acknowledge_log_entry",
    "incident.unacknowledged": "unacknowledge_log_entry",
    "incident.resolved": "resolve_log_entry",
    "incident.reopened": "reopen_log_entry",
    "incident.reassigned": "assign_log_entry",
    "incident.delegated": "escalate_log_entry",
    "incident.priority_updated": "priority_change_log_entry",
}
POLICIES: tuple[tuple[str, str], ...] = (("PESCDEF", "Default"), ("PESCDBA", "Database Team"))
SERVICE_ID, SERVICE_NAME = "PSVC001", "Checkout API"
# A title longer than an event's documented `summary` bound (1,024 characters, which becomes
# the title of the incident an event opens) is refused. The REST reference names no maximum
# for titles: this stand-in assumes the same bound.
TITLE_MAX = 1024


def user_id(email: str) -> str:
    return "PU" + hashlib.sha256(email.encode()).hexdigest()[:5].upper()


def pd_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    id: str
    name: str
    email: str


@dataclass
class Note:
    id: str
    user: str
    content: str
    created_at: datetime


@dataclass
class Incident:
    id: str
    number: int
    title: str
    status: str
    urgency: str
    incident_key: str
    priority_id: str | None
    policy_id: str
    assignees: list[str]
    created_at: datetime
    updated_at: datetime
    last_status_change_at: datetime
    last_status_change_by: str
    resolved_at: datetime | None = None
    notes: list[Note] = field(default_factory=list)
    # Incident custom field values (`fieldvalues`): field id -> value.
    custom: dict[str, Any] = field(default_factory=dict)


class PdError(Exception):
    def __init__(self, message: str, errors: list[str], code: int = 2001, status: int = 400):
        super().__init__(message)
        self.message, self.errors, self.code, self.status = message, errors, code, status


class PagerDutyStore:
    def __init__(self, users: list[User], oncall: str) -> None:
        self.users = {u.id: u for u in users}
        self.oncall = oncall  # who the default escalation policy pages first
        self.incidents: dict[str, Incident] = {}
        # The account's log entries (GET /log_entries), oldest first: (at, type, incident, by)
        self.log: list[tuple[datetime, str, str, str]] = []
        self.api_writes: Counter[str] = Counter()
        self.api_write_log: list[JSON] = []
        self._number = 1

    def reset(self) -> None:
        self.incidents.clear()
        self.log.clear()
        self.api_writes.clear()
        self.api_write_log.clear()
        self._number = 1

    def record_api_write(self, incident_id: str, op: str) -> None:
        self.api_writes[incident_id] += 1
        self.api_write_log.append({"id": incident_id, "op": op})

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def priority(self, ref: object) -> str | None:
        if ref is None:
            return None
        if isinstance(ref, str):  # the name: "the highest priority with a matching name"
            found = next((pid for pid, name in PRIORITIES if name == ref), None)
        elif isinstance(ref, dict):
            found = next((pid for pid, _ in PRIORITIES if pid == ref.get("id")), None)
        else:
            found = None
        if found is None:
            raise PdError("Invalid Input Provided", ["Priority not found"])
        return found

    def policy(self, ref: object) -> str:
        if isinstance(ref, dict) and any(pid == ref.get("id") for pid, _ in POLICIES):
            return str(ref["id"])
        raise PdError("Invalid Input Provided", ["Escalation Policy not found"])

    def assignments(self, value: object) -> list[str]:
        if not isinstance(value, list):
            raise PdError("Invalid Input Provided", ["assignments must be an array"])
        out = []
        for item in value:
            assignee = item.get("assignee") if isinstance(item, dict) else None
            if not isinstance(assignee, dict) or assignee.get("id") not in self.users:
                raise PdError("Invalid Input Provided", ["Assignee not found"])
            out.append(str(assignee["id"]))
        return out

    def _touch(self, incident: Incident) -> None:
        incident.updated_at = max(utcnow(), incident.updated_at + timedelta(milliseconds=1))

    def logged(self, incident: Incident, kind: str, actor: str) -> None:
        """A change made elsewhere (its custom field values): `updated_at` moves, and the
        change is in the account's log."""
        self._touch(incident)
        self.log.append((incident.updated_at, kind, incident.id, actor))

    def create(self, body: JSON, actor: str) -> Incident:
        title = _title(body.get("title"))
        service = body.get("service")
        if not isinstance(service, dict) or service.get("id") != SERVICE_ID:
            raise PdError("Invalid Input Provided", ["Service not found"])
        key = body.get("incident_key") or secrets.token_hex(16)
        clash = next(
            (
                i
                for i in self.incidents.values()
                if i.incident_key == key and i.status != "resolved"
            ),
            None,
        )
        if clash is not None:
            raise PdError(
                "Invalid Input Provided",
                ["Open incident with matching dedup key already exists on this service"],
            )
        urgency = body.get("urgency", "high")
        if urgency not in ("high", "low"):
            raise PdError("Invalid Input Provided", ["Urgency is invalid"])
        if "escalation_policy" in body and "assignments" in body:
            # The REST spec: assignments "Cannot be specified if an escalation policy is
            # given" (an ArgumentError; the vendor's exact wording is not documented).
            raise PdError(
                "Invalid Input Provided",
                ["Assignments cannot be specified if an escalation policy is given."],
            )
        policy = (
            self.policy(body["escalation_policy"])
            if "escalation_policy" in body
            else POLICIES[0][0]
        )
        assignees = self.assignments(body["assignments"]) if "assignments" in body else []
        at = utcnow()
        incident = Incident(
            id="Q" + secrets.token_hex(6).upper(),
            number=self._number,
            title=title,
            status="triggered",
            urgency=urgency,
            incident_key=str(key),
            priority_id=self.priority(body.get("priority")),
            policy_id=policy,
            assignees=assignees or [self.oncall],
            created_at=at,
            updated_at=at,
            last_status_change_at=at,
            last_status_change_by=actor,
        )
        self._number += 1
        self.incidents[incident.id] = incident
        self.log.append((at, "trigger_log_entry", incident.id, actor))
        return incident

    def update(self, incident: Incident, body: JSON, actor: str) -> list[str]:
        """Apply an update; returns the webhook event types it causes, in order."""
        events: list[str] = []
        if "title" in body:
            incident.title = _title(body["title"])
        if "urgency" in body:
            incident.urgency = str(body["urgency"])
        if "priority" in body:
            pid = self.priority(body["priority"])
            if pid != incident.priority_id:
                incident.priority_id = pid
                events.append("incident.priority_updated")
        if "escalation_policy" in body:
            pid = self.policy(body["escalation_policy"])
            if pid != incident.policy_id:
                incident.policy_id = pid
                events.append("incident.delegated")
        if "assignments" in body:
            assignees = self.assignments(body["assignments"])
            if assignees != incident.assignees:
                incident.assignees = assignees
                events.append("incident.reassigned")
        if "status" in body:
            status = body["status"]
            if status not in STATUSES:
                raise PdError("Invalid Input Provided", ["Status is invalid"])
            if status == "resolved" and incident.status == "resolved":
                raise PdError("Incident Already Resolved", [], code=1001)
            if status != incident.status:
                before = incident.status
                incident.status = status
                incident.last_status_change_at = utcnow()
                incident.last_status_change_by = actor
                if status == "resolved":
                    incident.resolved_at = utcnow()
                    events.append("incident.resolved")
                elif before == "resolved":
                    incident.resolved_at = None
                    events.append("incident.reopened")
                    if status == "acknowledged":
                        events.append("incident.acknowledged")
                elif status == "acknowledged":
                    events.append("incident.acknowledged")
                else:
                    events.append("incident.unacknowledged")
        self._touch(incident)
        for event in events or ["incident.updated"]:
            kind = LOG_TYPES.get(event, "update_log_entry")
            self.log.append((incident.updated_at, kind, incident.id, actor))
        return events

    def add_note(self, incident: Incident, content: object, actor: str) -> Note:
        if not isinstance(content, str) or not content:
            raise PdError("Invalid Input Provided", ["Note content cannot be empty."])
        if len(incident.notes) >= 2000:
            raise PdError("Invalid Input Provided", ["Incident has reached the note limit"])
        note = Note("PN" + secrets.token_hex(4).upper(), actor, content, utcnow())
        incident.notes.append(note)
        self.log.append((note.created_at, "annotate_log_entry", incident.id, actor))
        return note


def _title(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise PdError("Invalid Input Provided", ["Title cannot be empty."])
    if len(value) > TITLE_MAX:
        raise PdError("Invalid Input Provided", [f"Title is too long (maximum is {TITLE_MAX})."])
    return value
