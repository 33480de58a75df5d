"""The shipped policy (deploy/policy/control.rego) on inputs no route sends yet: conflicts,
which arrive with their issue, are resolved by the incident's commander or assignees."""

from __future__ import annotations

from typing import Any

from incident_sync.control.policy import Policy
from incident_sync.control.settings import default_policy_file

POLICY = Policy(default_policy_file())


def decide(role: str, action: str, name: str = "alice", **resource: Any) -> bool:
    subject = {
        "authenticated": True,
        "id": "t1",
        "name": name,
        "role": role,
        "scope": {"tenants": ["acme"], "integrations": []},
    }
    data = {"subject": subject, "action": action, "resource": {"tenant": "acme", **resource}}
    return POLICY.decide(data).allow


def test_an_incident_commander_resolves_conflicts_of_their_incidents_only() -> None:
    mine = {"id": "INC1", "commander": "alice", "assignees": []}
    theirs = {"id": "INC2", "commander": "bob", "assignees": ["carol"]}
    assert decide("incident_commander", "conflict.resolve", incident=mine)
    assert not decide("incident_commander", "conflict.resolve", incident=theirs)
    assert decide("incident_commander", "conflict.resolve", name="carol", incident=theirs)
    assert not decide("viewer", "conflict.resolve", incident=mine)
    assert decide("platform.administrator", "conflict.resolve", incident=theirs)


def test_denials_say_why() -> None:
    decision = POLICY.decide(
        {
            "subject": {"authenticated": True, "role": "viewer", "scope": {}},
            "action": "keys.rotate",
            "resource": {},
        }
    )
    assert not decision.allow and "viewer" in decision.reason
    anonymous = POLICY.decide({"subject": {"authenticated": False}, "action": "whoami"})
    assert not anonymous.allow and "token" in anonymous.reason


def test_an_incidents_timeline_is_for_tenant_managers_and_the_incidents_commander() -> None:
    mine = {"id": "INC1", "commander": "alice", "assignees": []}
    theirs = {"id": "INC2", "commander": "bob", "assignees": []}
    assert decide("incident_commander", "incident.timeline", incident=mine)
    assert not decide("incident_commander", "incident.timeline", incident=theirs)
    assert not decide("incident_commander", "incident.timeline")  # an unknown reference
    assert decide("integration.manager", "incident.timeline", incident=theirs)
    assert not decide("viewer", "incident.timeline", incident=mine)
