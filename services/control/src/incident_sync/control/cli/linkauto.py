"""`im integration link NAME --auto --by ...`: ask the control API for a link job, wait for
the reconciler to carry it out (showing its progress on stderr: a line redrawn in place on a
terminal, plain lines otherwise), then print the plan and the result (or `-o json`)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import click

from incident_sync.control.cli.client import ERROR, Api, fail
from incident_sync.control.cli.output import emit, key_values, short, table

SHOWN_UNMATCHED = 50  # unmatched items listed in the table (all are counted; -o json has more)


def _path(a: Api, name: str, tail: str = "") -> str:
    return a.tenant_path(f"/integrations/{name}/link-jobs{tail}")


class Progress:
    """What the job has done so far, written to `out` when it changes: on a terminal one
    line redrawn in place (a bar, the counts, an ETA), otherwise a plain line each time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.terminal = out.isatty()
        self.started = time.monotonic()
        self.last = ""

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
        c = job["counts"]
        if job["status"] == "queued":
            return f"{job['integration']}: queued for the reconciler"
        if job["status"] == "running" and not c["planned"] and not job["pairs"]:
            return f"{job['integration']}: listing and matching"
        counts = (
            f"{c['done']}/{c['planned']} pairs: {c['linked']} linked, {c['unchanged']} "
            f"unchanged, {c['errors']} errors; {c['ambiguous']} ambiguous, {c['unmatched']} "
            "unmatched"
        )
        if job["dry_run"] or job["status"] != "running":
            return f"{job['integration']}: {job['status']}: {counts}"
        if not self.terminal:
            return f"{job['integration']}: linking {counts}"
        return f"{job['integration']}: {bar(c['done'], c['planned'])} {counts}{self.eta(c)}"

    def eta(self, counts: dict[str, int]) -> str:
        done, planned = counts["done"], counts["planned"]
        if not done or done >= planned:
            return ""
        left = (time.monotonic() - self.started) / done * (planned - done)
        return f", ETA {left:.0f}s"

    def end(self) -> None:
        if self.terminal and self.last:
            self.out.write("\n")
            self.out.flush()


def bar(done: int, total: int, width: int = 20) -> str:
    """`[######--------------]`: how much of `total` is done."""
    filled = width * done // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def wait(a: Api, name: str, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    progress = Progress(sys.stderr)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            progress.show(job)
            if job["status"] not in ("queued", "running"):
                return job
            if time.monotonic() > deadline:
                fail(
                    f"link job {job['id']} is still {job['status']} after {timeout_s:g}s (is a "
                    "reconciler running?)"
                )
            time.sleep(0.25)
            job = a.get(_path(a, name, f"/{job['id']}"))
    finally:
        progress.end()


def show(job: dict[str, Any]) -> None:
    c = job["counts"]
    verb = "plan (dry run: nothing linked)" if job["dry_run"] else "link job"
    key_values(
        f"{verb} {job['id']} of {job['integration']}, by {job['by']}",
        [
            ("status", job["status"] + (f": {job['error']}" if job.get("error") else "")),
            ("first sync", f"initial {job['initial']}" if job.get("initial") else
             "the record read, the usual rules"),
            ("pairs planned", c["planned"]),
            *(() if job["dry_run"] else (("linked", c["linked"]), ("unchanged", c["unchanged"]),
                                          ("errors", c["errors"]))),
            ("ambiguous (not linked)", c["ambiguous"]),
            ("unmatched", c["unmatched"]),
            ("linked before (left out)", c["already_linked"]),
            ("listed", ", ".join(f"{k} {v}" for k, v in sorted(job["listed"].items())) or "-"),
            ("requests", ", ".join(f"{k} {v}" for k, v in sorted(job["requests"].items())) or "-"),
            ("duration", f"{job['duration_s']} s" if job.get("duration_s") is not None else "-"),
        ],
    )  # fmt: skip
    if job["pairs"]:
        table(
            "pairs",
            ["INCIDENT", "RECORD", "BY", "TITLE", "RESULT"],
            [
                (p.get("incident_reference") or p["incident"], p.get("record_reference") or
                 p["record"], p["by"], short(p.get("title") or "", 40),
                 p["result"] + (f": {p['error']}" if p.get("error") else ""))
                for p in job["pairs"]
            ],
        )  # fmt: skip
    if job["ambiguous"]:
        table(
            "ambiguous: several candidates, never guessed (link one with --incident --record)",
            ["SIDE", "ITEM", "CANDIDATES"],
            [(x["side"], x.get("reference") or x["id"], " ".join(x["candidates"]))
             for x in job["ambiguous"]],
        )  # fmt: skip
    unmatched = [("incident", i) for i in job["unmatched_incidents"]] + [
        ("record", r) for r in job["unmatched_records"]
    ]
    if unmatched:
        more = len(unmatched) - SHOWN_UNMATCHED
        table(
            "unmatched"
            + (f" (the first {SHOWN_UNMATCHED}; -o json lists more)" if more > 0 else ""),
            ["SIDE", "ITEM"],
            unmatched[:SHOWN_UNMATCHED],
        )
    for error in job["errors"]:
        click.echo(f"error: {error}", err=True)


def run_auto(
    ctx: click.Context, a: Api, name: str, *, by: str, since: str, dry_run: bool,
    initial: str | None, timeout: float, fmt: str,
) -> None:  # fmt: skip
    """Post the job, wait for it, print it; exit 1 when it failed or a pair was not linked."""
    body: dict[str, object] = {
        "by": by, "since": int(since) if since.isdigit() else since, "dry_run": dry_run,
    }  # fmt: skip
    if initial:
        body["initial"] = initial
    _, job = a.call("POST", _path(a, name), json=body)
    job = wait(a, name, job, timeout)
    emit(job, fmt, show)
    if job["status"] == "failed" or job["counts"]["errors"]:
        ctx.exit(ERROR)
