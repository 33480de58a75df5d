"""`outbound.membership`: ready once the group gave this worker an assignment, empty or not;
what it holds counted per pipeline topic (faust's assignor topic is no work)."""

from __future__ import annotations

from faust.types import TP
from prometheus_client import REGISTRY

from incident_sync.outbound.membership import Membership

PIPELINE = ("sync.inbound", "sync.changes", "sync.outbound")
LEADER = "incident-sync-outbound-__assignor-__leader"


def gauge(topic: str) -> float | None:
    return REGISTRY.get_sample_value("incident_sync_worker_assigned_partitions", {"topic": topic})


def test_joining_until_the_first_assignment() -> None:
    m = Membership(PIPELINE)
    assert m.status() == {"status": "joining", "partitions": 0}
    assert not m.joined


def test_a_spare_with_only_the_assignor_topic_is_ready_and_holds_nothing() -> None:
    m = Membership(PIPELINE)
    m.assigned({TP(LEADER, 0)})
    assert m.joined
    assert m.status() == {"status": "ready", "partitions": 0, "topics": dict.fromkeys(PIPELINE, 0)}
    assert [gauge(t) for t in PIPELINE] == [0.0, 0.0, 0.0]
    assert gauge(LEADER) is None


def test_an_owner_counts_its_partitions_and_a_rebalance_replaces_them() -> None:
    m = Membership(PIPELINE)
    m.assigned({TP("sync.inbound", 0), TP("sync.inbound", 3), TP("sync.outbound", 1)})
    assert m.partitions == 3
    assert gauge("sync.inbound") == 2.0 and gauge("sync.changes") == 0.0
    m.assigned(set())  # everything moved to another worker: still a member, ready
    assert m.status()["status"] == "ready" and m.partitions == 0
    assert gauge("sync.inbound") == 0.0
