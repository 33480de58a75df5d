"""What the CLI's job commands share (`link --auto`, `backfill`): waiting for the reconciler to
carry out a job the control API queued, with its progress on stderr (on a terminal one line
redrawn in place: a bar, the counts, an ETA; plain lines otherwise, each when it changes)."""

from __future__ import annotations

import time
from typing import Any, TextIO

from incident_sync.control.cli.client import Api, fail


class Progress:
    """A job's progress as a line. A kind of job says what it counts (`counts`), how much
    there is and how much is done (`total`, `done`), what it does meanwhile (`verb`), and
    what it is doing before there is anything to count (`before`)."""

    verb = "working"

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.terminal = out.isatty()
        self.started = time.monotonic()
        self.last = ""

    def before(self, job: dict[str, Any]) -> str | None:
        return None

    def counts(self, job: dict[str, Any]) -> str:
        raise NotImplementedError

    def total(self, job: dict[str, Any]) -> int:
        raise NotImplementedError

    def done(self, job: dict[str, Any]) -> int:
        raise NotImplementedError

    def show(self, job: dict[str, Any]) -> None:
        line = self.line(job)
        if line == self.last:
            return
        self.last = line
        if self.terminal:
            self.out.write("\r\033[K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def line(self, job: dict[str, Any]) -> str:
        name = job["integration"]
        if job["status"] == "queued":
            return f"{name}: queued for the reconciler"
        if job["status"] == "running" and (early := self.before(job)) is not None:
            return f"{name}: {early}"
        counts = self.counts(job)
        if job["dry_run"] or job["status"] != "running":
            return f"{name}: {job['status']}: {counts}"
        if not self.terminal:
            return f"{name}: {self.verb} {counts}"
        done, total = self.done(job), self.total(job)
        return f"{name}: {bar(done, total)} {counts}{self.eta(done, total)}"

    def eta(self, done: int, total: int) -> str:
        if not done or done >= total:
            return ""
        left = (time.monotonic() - self.started) / done * (total - done)
        return f", ETA {left:.0f}s"

    def end(self) -> None:
        if self.terminal and self.last:
            self.out.write("\n")
            self.out.flush()


def bar(done: int, total: int, width: int = 20) -> str:
    """`[######--------------]`: how much of `total` is done."""
    filled = width * min(done, total) // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def wait(
    a: Api, path: str, job: dict[str, Any], timeout_s: float, progress: Progress
) -> dict[str, Any]:
    """Poll `path/{id}` until the job is done or failed (exit 1 after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            progress.show(job)
            if job["status"] not in ("queued", "running"):
                return job
            if time.monotonic() > deadline:
                fail(
                    f"job {job['id']} is still {job['status']} after {timeout_s:g}s (is a "
                    "reconciler running?)"
                )
            time.sleep(0.25)
            job = a.get(f"{path}/{job['id']}")
    finally:
        progress.end()
