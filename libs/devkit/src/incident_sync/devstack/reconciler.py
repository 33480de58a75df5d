"""The reconciler as a child process of a `Stack` (one, or more replicas for lease tests).

Defaults suit tests and the demo: a short lease (a replica takes over within seconds), a
quick tick, no default schedule (runs happen when asked), and a long polling interval (the
fallback runs when a test or `extra_env` sets `RECONCILE_POLL_INTERVAL_S` lower). The
stack's `extra_env` overrides all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incident_sync.devstack import processes
from incident_sync.devstack.processes import Child

if TYPE_CHECKING:
    from incident_sync.devstack.stack import Stack

DEFAULTS = {
    "RECONCILE_LEASE_S": "3",
    "RECONCILE_TICK_S": "0.2",
    "RECONCILE_DEFAULT_INTERVAL_S": "0",
    "RECONCILE_POLL_INTERVAL_S": "3600",
    "RECONCILE_POLL_OVERLAP_S": "5",
}


def reconciler(stack: Stack, name: str = "reconciler", port: int | None = None) -> Child:
    """A reconciler process named `name` (its log is `<workdir>/<name>.log`)."""
    port = port if port is not None else processes.free_port()
    env = {**DEFAULTS, **stack.service_env("reconciler"), "HTTP_PORT": str(port)}
    env.update({k: v for k, v in stack.extra_env.items() if k.startswith("RECONCILE_")})
    env["RECONCILE_INSTANCE"] = name
    return processes.python_module(name, "incident_sync.reconciler", port=port, env=env)
