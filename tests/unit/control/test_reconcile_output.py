"""`im integration reconcile show`: an unhealable discrepancy is shown with its reason."""

from __future__ import annotations

import pytest

from incident_sync.control.cli.reconcile import show_run

REASON = "push_platform sent by rec-0 did not change either side; it is not sent again"


def test_an_unhealable_discrepancy_shows_why(capsys: pytest.CaptureFixture[str]) -> None:
    run = {
        "id": "rec-1", "integration": "prod-jira", "mode": "auto-heal", "status": "succeeded",
        "trigger": "api", "requested_at": "2026-01-01T12:00:00Z", "duration_s": 0.1, "links": 1,
        "discrepancies_found": 1, "fixes": 0, "on_missing": "report", "requests": {},
        "discrepancies": [{
            "platform_incident_id": "P1", "external_id": "10000", "reference": "OPS-1",
            "type": "mismatch", "field": "priority", "platform_value": "P5",
            "external_value": "P3", "heal": "unhealable", "reason": REASON}],
    }  # fmt: skip
    show_run(run)
    out = " ".join(capsys.readouterr().out.split())
    assert "unhealable" in out and "OPS-1 priority: push_platform sent by rec-0" in out
