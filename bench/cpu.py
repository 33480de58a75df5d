"""Where the CPU goes: CPU seconds used by each process of a stack (and by this one, the load
generator) between two snapshots, from Linux's /proc (user + system time, all threads).

Elsewhere (no /proc) the snapshots are empty and the bench prints no CPU table.
"""

from __future__ import annotations

import os
from pathlib import Path

from devstack.stack import Stack

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine() -> float | None:
    """Busy CPU seconds of the whole machine (every core; others' processes too)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK


def snapshot(stack: Stack) -> dict[str, float]:
    out: dict[str, float] = {}
    for child in stack.children:
        if child.proc is not None:
            used = _cpu_of(child.proc.pid)
            if used is not None:
                out[child.name] = used
    own = _cpu_of(os.getpid())
    if own is not None:
        out["load generator"] = own
    machine = _machine()
    if machine is not None:
        out["(machine)"] = machine
    return out


def report(before: dict[str, float], after: dict[str, float], changes: int, wall_s: float) -> str:
    """CPU ms per change by process, and each process's share of one core over the run."""
    if not before or not changes:
        return ""
    rows = []
    for name in sorted(after, key=lambda n: after[n] - before.get(n, after[n]), reverse=True):
        if name not in before:
            continue
        used = after[name] - before[name]
        rows.append(
            f"    {name:<20} {used * 1000 / changes:>7.2f} ms/change "
            f"{used / wall_s * 100:>6.0f} % of a core"
        )
    return "  CPU by process:\n" + "\n".join(rows)
