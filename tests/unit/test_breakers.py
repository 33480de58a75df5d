"""The integration's breaker from the workers' reports (`syncmodel.breakers`), pure."""

from __future__ import annotations

import pytest

from incident_sync.syncmodel.breakers import BreakerReport, live, worst


def report(worker: str, state: str, at: float = 100.0, ttl: float = 15.0) -> BreakerReport:
    return BreakerReport(worker=worker, state=state, at=at, expires_at=at + ttl)  # type: ignore[arg-type]


def test_the_worst_state_of_the_live_workers_is_the_integrations() -> None:
    reports = [report("a", "closed"), report("b", "open"), report("c", "half-open")]
    assert worst(reports, now=101.0) == "open"
    assert worst([report("a", "closed"), report("c", "half-open")], now=101.0) == "half-open"
    assert worst([report("a", "closed")], now=101.0) == "closed"


def test_no_report_or_only_expired_ones_is_unknown_not_closed() -> None:
    assert worst([], now=101.0) == "unknown"
    dead = report("dead", "open", at=100.0, ttl=15.0)
    assert worst([dead], now=115.5) == "unknown"
    # A dead worker's open breaker no longer counts against the live one's closed.
    assert worst([dead, report("alive", "closed", at=114.0)], now=115.5) == "closed"
    assert [r.worker for r in live([dead, report("alive", "closed", at=114.0)], 115.5)] == ["alive"]


def test_a_report_reads_back_as_written_and_garbage_reads_as_none() -> None:
    written = BreakerReport("w-1", "open", at=100.0, expires_at=115.0, half_opens_at=130.0)
    assert BreakerReport.decode("w-1", written.encode()) == written
    for raw in ("", "{", "[]", '{"state": "open"}', '{"state": "ajar", "at": 1, "expires_at": 2}'):
        assert BreakerReport.decode("w-1", raw) is None


def test_a_report_with_a_state_it_cannot_have_is_refused() -> None:
    with pytest.raises(ValueError, match="not a breaker state"):
        report("a", "closed-ish")
    with pytest.raises(ValueError, match="expires before"):
        BreakerReport("a", "closed", at=10.0, expires_at=9.0)
