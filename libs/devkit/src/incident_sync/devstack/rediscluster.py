"""A real Redis Cluster on loopback: N masters (no replicas) from the same `redis-server`
binary as the single server, for the tests and stacks that run on a cluster.

Each node runs with `--cluster-enabled yes`; the cluster is then formed the way
`redis-cli --cluster create ... --cluster-replicas 0` forms it, by talking to the nodes directly
(so no `redis-cli` is needed): each node gets its share of the 16384 slots (`CLUSTER
ADDSLOTS`) and a config epoch of its own, the first meets the others (`CLUSTER MEET`), and the
cluster is ready once every node reports `cluster_state:ok` and knows all the others. Services
reach it with `url` (`redis+cluster://`, see `incident_sync.syncstate.client`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis as redispy

from incident_sync.devstack import processes
from incident_sync.devstack.processes import Child

SLOTS = 16384


@dataclass
class RedisCluster:
    masters: int = 3
    workdir: Path | None = None
    ports: list[int] = field(default_factory=list)
    bus_ports: list[int] = field(default_factory=list)  # the nodes' cluster bus
    children: list[Child] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Every node as a seed: the client reads the slot map from whichever answers."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self, ready_timeout_s: float = 30.0) -> RedisCluster:
        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="incident-sync-cluster-"))
        # The bus port is the node's port + 10000 unless set: that one was never checked
        # free (and may fall in the range outgoing connections draw from). Nothing listens on
        # any of them yet, so each is drawn apart from those already drawn.
        taken: list[int] = list(self.ports)
        while len(taken) < self.masters:
            taken.append(_another(taken))
        self.ports = taken[: self.masters]
        self.bus_ports = []
        for _ in self.ports:
            self.bus_ports.append(_another([*self.ports, *self.bus_ports]))
        try:
            for n, port in enumerate(self.ports):
                data = workdir / f"node-{port}"
                data.mkdir(parents=True, exist_ok=True)
                child = processes.redis(
                    port,
                    str(data),
                    name=f"redis-cluster-{n}",
                    extra=(
                        *("--cluster-enabled", "yes"),
                        *("--cluster-config-file", str(data / "nodes.conf")),
                        *("--cluster-node-timeout", "5000"),
                        *("--cluster-port", str(self.bus_ports[n])),
                    ),
                )
                child.log_path = workdir / f"{child.name}.log"
                self.children.append(child)
                try:
                    child.start()
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}:\n{child.log_tail(10)}") from None
            self._form(ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self, timeout_s: float) -> None:
        clients = [redispy.Redis(port=p, socket_timeout=5) for p in self.ports]
        try:
            share = -(-SLOTS // len(clients))  # ceiling: the last node takes the rest
            for n, client in enumerate(clients):
                slots = range(n * share, min(SLOTS, (n + 1) * share))
                client.cluster("ADDSLOTS", *slots)
                # Distinct epochs up front, as redis-cli does: no collision to resolve.
                client.cluster("SET-CONFIG-EPOCH", n + 1)
            for port, bus in zip(self.ports[1:], self.bus_ports[1:], strict=True):
                clients[0].cluster("MEET", "127.0.0.1", port, bus)
            deadline = time.monotonic() + timeout_s
            while not all(self._ready(c) for c in clients):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the Redis Cluster on {self.ports} did not form")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def _ready(self, client: redispy.Redis) -> bool:
        info = client.cluster("INFO")  # redis-py parses it: field -> value
        return (
            str(info.get("cluster_state")) == "ok"
            and int(info.get("cluster_known_nodes", 0)) == len(self.ports)
            and int(info.get("cluster_slots_assigned", 0)) == SLOTS
        )

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


def _another(taken: list[int]) -> int:
    """A free port not among `taken` (ports drawn but not yet listened on)."""
    while (port := processes.free_port()) in taken:
        pass
    return port
