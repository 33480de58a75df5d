"""Where the time goes: CPU seconds used by each process of a stack (and by this one, the load
generator) between two snapshots, from Linux's /proc (user + system time, all threads); and
the mean time per message of each stage, from the workers' `incident_sync_stage_seconds`.

Elsewhere (no /proc) the CPU snapshots are empty and the bench prints no CPU table.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads) so far; None without /proc."""
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
            used = cpu_seconds(child.proc.pid)
            if used is not None:
                out[child.name] = used
    own = cpu_seconds(os.getpid())
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


def stages(stack: Stack) -> dict[str, tuple[float, float]]:
    """stage -> (seconds, messages) so far, summed over the workers."""
    out: dict[str, tuple[float, float]] = {}
    for name in stack.worker_names:
        text = httpx.get(f"{stack.url(name)}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            if family.name != "incident_sync_stage_seconds":
                continue
            for sample in family.samples:
                stage = sample.labels.get("stage", "")
                total, count = out.get(stage, (0.0, 0.0))
                if sample.name.endswith("_sum"):
                    total += sample.value
                elif sample.name.endswith("_count"):
                    count += sample.value
                out[stage] = (total, count)
    return out


def stage_report(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> str:
    rows = []
    for stage, (total, count) in sorted(after.items()):
        t0, c0 = before.get(stage, (0.0, 0.0))
        if count > c0:
            rows.append(f"{stage} {(total - t0) * 1000 / (count - c0):.1f} ms x {count - c0:.0f}")
    return "  stage, mean per message: " + "; ".join(rows) if rows else ""
