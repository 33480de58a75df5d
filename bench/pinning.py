"""CPU pinning for `--pin`: the server under test on a core of its own, everything else on the
others (via `taskset`, when installed)."""

from __future__ import annotations

import argparse
import shutil
import subprocess

from incident_sync.devstack import processes

SERVER_CPUS = "0"  # the server under test gets a core of its own
LOAD_CPUS = "1-1023"  # the load generator and the broker share the others


def pinned(args: argparse.Namespace, cpus: str) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", cpus] if args.pin and taskset else []


def pin(args: argparse.Namespace, child: processes.Child, cpus: str) -> None:
    """Pin every thread of a running child (the broker is multi-threaded)."""
    taskset = shutil.which("taskset")
    if args.pin and taskset and child.proc is not None:
        subprocess.run(  # noqa: S603
            [taskset, "-a", "-cp", cpus, str(child.proc.pid)], check=True, capture_output=True
        )
