"""The worker's place in its consumer group: whether it has joined, and what it holds.

Readiness means "joined the group and able to process what it is assigned", not "holds
partitions": a worker beyond the partition count holds none, and if that made it unready the
PodDisruptionBudget would count it as unavailable and block node drains while nothing is
wrong. What a worker holds is its own signal: `partitions` here (the /ready body) and the
gauge `incident_sync_worker_assigned_partitions{topic}`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from incident_sync.outbound.metrics import ASSIGNED_PARTITIONS


class _Partition(Protocol):
    @property
    def topic(self) -> str: ...


@dataclass
class Membership:
    """What the last assignment gave this worker, for the pipeline `topics` it reads (faust's
    own assignor topic is left out: holding it is no work)."""

    topics: Collection[str]
    joined: bool = False
    held: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.held = dict.fromkeys(self.topics, 0)
        for topic in self.topics:
            ASSIGNED_PARTITIONS.labels(topic).set(0)

    def assigned(self, partitions: Iterable[_Partition]) -> None:
        """An assignment of the group (empty for a spare worker): the worker has joined."""
        counts = Counter(tp.topic for tp in partitions)
        self.held = {topic: counts.get(topic, 0) for topic in self.topics}
        for topic, n in self.held.items():
            ASSIGNED_PARTITIONS.labels(topic).set(n)
        self.joined = True

    @property
    def partitions(self) -> int:
        return sum(self.held.values())

    def status(self) -> dict[str, object]:
        """The /ready body: ready once joined, with what it holds (0: a spare)."""
        if not self.joined:
            return {"status": "joining", "partitions": 0}
        return {"status": "ready", "partitions": self.partitions, "topics": dict(self.held)}
