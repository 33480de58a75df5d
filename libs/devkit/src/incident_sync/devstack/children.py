"""The child processes a `Stack` starts once the broker, Redis and the control service (which
seeds the store) are up: the sandboxes, the ingress, the workers and the reconciler. They need
only those, not one another, so they start together (`processes.start_all`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incident_sync.devstack import processes
from incident_sync.devstack.optional import OPTIONAL
from incident_sync.devstack.processes import Child
from incident_sync.devstack.reconciler import reconciler

if TYPE_CHECKING:
    from incident_sync.devstack.stack import Stack

SN_USER, SN_PASSWORD = "incident-sync", "sandbox-password"
SN_HUMAN, SN_HUMAN_PASSWORD = "john.smith", "sandbox-human"


def optional_sandboxes(stack: Stack) -> list[Child]:
    return [
        processes.python_module(
            f"sandbox-{name}",
            tool.module,
            *tool.args(stack, stack.ports[name]),
            port=stack.ports[name],
        )
        for name, tool in OPTIONAL.items()
        if name in stack.tools
    ]


def services(stack: Stack) -> list[Child]:
    """The children that need only the broker, Redis and the seeded store: the sandboxes,
    the ingress, the workers and the reconciler (they start together)."""
    ingress = stack.url("ingress")
    incidentio = processes.python_module(
        "sandbox-incidentio",
        "incident_sync.sandbox.incidentio",
        "--host",
        "127.0.0.1",
        "--port",
        str(stack.ports["incidentio"]),
        # `=`: a random value may start with "-", which argparse would take for an option.
        f"--api-key={stack.api_key}",
        f"--signing-secret={stack.incidentio_secret}",
        "--webhook-url",
        f"{ingress}/webhook",
        port=stack.ports["incidentio"],
    )
    servicenow = processes.python_module(
        "sandbox-servicenow",
        "incident_sync.sandbox.servicenow",
        "--host",
        "127.0.0.1",
        "--port",
        str(stack.ports["servicenow"]),
        "--user",
        f"{SN_USER}:{SN_PASSWORD}",
        "--user",
        f"{SN_HUMAN}:{SN_HUMAN_PASSWORD}",
        "--webhook-url",
        f"{ingress}/webhook/servicenow",
        f"--webhook-secret={stack.servicenow_secret}",
        port=stack.ports["servicenow"],
    )
    workers = [
        processes.python_module(
            name,
            "incident_sync.outbound",
            "worker",
            "-l",
            stack.extra_env.get("LOG_LEVEL", "warn").lower(),
            env=stack.service_env(name),
            port=stack.ports[name],
        )
        for name in stack.worker_names
    ]
    return [
        incidentio,
        servicenow,
        *optional_sandboxes(stack),
        processes.python_module(
            "ingress",
            "incident_sync.ingress",
            port=stack.ports["ingress"],
            env=stack.service_env("ingress"),
        ),
        *workers,
        reconciler(stack, port=stack.ports["reconciler"]),
    ]
