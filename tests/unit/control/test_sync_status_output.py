"""`im integration sync-status`: the breaker, the propagation time and the consumer lag are
in the table, and "unknown" says that no worker reported, never "closed"."""

from __future__ import annotations

from typing import Any

import pytest

from incident_sync.control.cli.integration import show_sync_status

COUNTERS = dict.fromkeys(
    (
        "outbound_success", "outbound_failed", "inbound_success", "inbound_failed",
        "conflicts_detected", "conflicts_resolved", "drift_discrepancies",
    ),
    0,
)  # fmt: skip


def status(**kw: Any) -> dict[str, Any]:
    return {
        "name": "prod-snow", "tenant": "default", "type": "servicenow",
        "direction": "bidirectional", "paused": False, "counters": COUNTERS,
        "last_outbound_at": None, "last_inbound_at": None, "last_error": None,
        "last_propagation_s": None, "breaker": {"state": "unknown", "workers": []},
        "consumer_lag": {"messages": None, "topics": {}, "at": None}, **kw,
    }  # fmt: skip


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line a row


def shown(capsys: pytest.CaptureFixture[str], s: dict[str, Any]) -> dict[str, str]:
    """The table's rows: name -> value."""
    show_sync_status(s)
    cells = (line.strip("│ ").split(" │ ") for line in capsys.readouterr().out.splitlines())
    return {c[0].strip(): c[1].strip() for c in cells if len(c) == 2}


def test_no_worker_reported_says_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    rows = shown(capsys, status())
    assert rows["breaker"] == "unknown (no worker reported)"
    assert rows["consumer lag"] == "unknown (no worker measured it)"
    assert rows["propagation"] == "no write yet"


def test_an_open_breaker_says_when_it_probes_and_which_worker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    workers = [
        {"worker": "w-1", "state": "closed", "at": "t", "half_opens_at": None},
        {"worker": "w-2", "state": "open", "at": "t", "half_opens_at": "2026-12-02T19:00:30Z"},
    ]
    rows = shown(
        capsys,
        status(
            breaker={"state": "open", "workers": workers},
            last_propagation_s=1.25,
            consumer_lag={"messages": 7, "topics": {"sync.outbound": 5, "sync.linked": 2}},
        ),
    )
    assert rows["breaker"] == "open (half-opens at 2026-12-02T19:00:30Z): w-1 closed, w-2 open"
    assert rows["propagation"] == "1.25 s"
    assert rows["consumer lag"] == "7 message(s) behind (sync.linked 2, sync.outbound 5)"
