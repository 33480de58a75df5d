"""Incidents, notes and references as PagerDuty answers and webhooks show them."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from incident_sync.sandbox.pagerduty.store import (
    POLICIES,
    PRIORITIES,
    SERVICE_ID,
    SERVICE_NAME,
    Incident,
    Note,
    PagerDutyStore,
    pd_time,
)

JSON = dict[str, Any]
API = "https://api.pagerduty.com"
WEB = "https://sandbox.pagerduty.com"


def ref(kind: str, plural: str, obj_id: str, summary: str) -> JSON:
    return {
        "id": obj_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API}/{plural}/{obj_id}",
        "html_url": f"{WEB}/{plural}/{obj_id}",
    }


def user_ref(store: PagerDutyStore, user_id: str) -> JSON:
    user = store.users.get(user_id)
    return ref("user", "users", user_id, user.name if user else "Unknown")


def priority(priority_id: str | None) -> JSON | None:
    if priority_id is None:
        return None
    out = ref("priority", "priorities", priority_id, dict(PRIORITIES)[priority_id])
    out["html_url"] = f"{WEB}/account/incident_priorities"
    return out


def policy(policy_id: str) -> JSON:
    return ref("escalation_policy", "escalation_policies", policy_id, dict(POLICIES)[policy_id])


def service() -> JSON:
    return ref("service", "services", SERVICE_ID, SERVICE_NAME)


def incident(store: PagerDutyStore, i: Incident) -> JSON:
    """The REST shape (`GET /incidents/{id}`)."""
    return {
        "id": i.id,
        "type": "incident",
        "summary": f"[#{i.number}] {i.title}",
        "self": f"{API}/incidents/{i.id}",
        "html_url": f"{WEB}/incidents/{i.id}",
        "incident_number": i.number,
        "title": i.title,
        "created_at": pd_time(i.created_at),
        "updated_at": pd_time(i.updated_at),
        "status": i.status,
        "incident_key": i.incident_key,
        "service": service(),
        "assignments": [
            {"at": pd_time(i.updated_at), "assignee": user_ref(store, u)} for u in i.assignees
        ]
        if i.status != "resolved"
        else [],
        "assigned_via": "escalation_policy",
        "last_status_change_at": pd_time(i.last_status_change_at),
        "last_status_change_by": user_ref(store, i.last_status_change_by),
        "resolved_at": pd_time(i.resolved_at) if i.resolved_at else None,
        "escalation_policy": policy(i.policy_id),
        "teams": [],
        "priority": priority(i.priority_id),
        "urgency": i.urgency,
        "acknowledgements": [],
        "alert_counts": {"all": 0, "triggered": 0, "resolved": 0},
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "conference_bridge": None,
        "resolve_reason": None,
    }


def webhook_incident(store: PagerDutyStore, i: Incident) -> JSON:
    """The webhook's `incident` data object: `number` and `assignees[]`."""
    return {
        "id": i.id,
        "type": "incident",
        "self": f"{API}/incidents/{i.id}",
        "html_url": f"{WEB}/incidents/{i.id}",
        "number": i.number,
        "status": i.status,
        "incident_key": i.incident_key,
        "created_at": pd_time(i.created_at),
        "title": i.title,
        "service": service(),
        "assignees": [user_ref(store, u) for u in i.assignees] if i.status != "resolved" else [],
        "escalation_policy": policy(i.policy_id),
        "teams": [],
        "priority": priority(i.priority_id),
        "urgency": i.urgency,
        "conference_bridge": None,
        "resolve_reason": None,
        "incident_type": {"name": "incident_default"},
    }


def note(store: PagerDutyStore, n: Note) -> JSON:
    return {
        "id": n.id,
        "user": user_ref(store, n.user),
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": n.content,
        "created_at": pd_time(n.created_at),
    }


def webhook_note(i: Incident, n: Note) -> JSON:
    return {
        "incident": {
            "html_url": f"{WEB}/incidents/{i.id}",
            "id": i.id,
            "self": f"{API}/incidents/{i.id}",
            "summary": i.title,
            "type": "incident_reference",
        },
        "id": n.id,
        "content": n.content,
        "trimmed": False,
        "type": "incident_note",
    }


def log_entry(store: PagerDutyStore, at: datetime, kind: str, incident_id: str, by: str) -> JSON:
    return {
        "id": "R" + hashlib.sha256(f"{at}{kind}{incident_id}".encode()).hexdigest()[:13].upper(),
        "type": kind,
        "summary": kind.removesuffix("_log_entry").replace("_", " ").capitalize(),
        "created_at": pd_time(at),
        "agent": user_ref(store, by) if by in store.users else None,
        "incident": {
            "id": incident_id,
            "type": "incident_reference",
            "self": f"{API}/incidents/{incident_id}",
        },
    }
