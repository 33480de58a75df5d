"""`im integration link NAME --auto --by ...`: ask the control API for a link job, wait for
the reconciler to carry it out (showing its progress on stderr, `cli.jobwait`), then print
the plan and the result (or `-o json`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from incident_sync.control.cli import jobwait
from incident_sync.control.cli.client import ERROR, Api
from incident_sync.control.cli.output import emit, key_values, short, table

SHOWN_UNMATCHED = 50  # unmatched items listed in the table (all are counted; -o json has more)


def _path(a: Api, name: str, tail: str = "") -> str:
    return a.tenant_path(f"/integrations/{name}/link-jobs{tail}")


class Progress(jobwait.Progress):
    """A link job's progress: pairs done of those planned, and how each went."""

    verb = "linking"

    def before(self, job: dict[str, Any]) -> str | None:
        if not job["counts"]["planned"] and not job["pairs"]:
            return "listing and matching"
        return None

    def counts(self, job: dict[str, Any]) -> str:
        c = job["counts"]
        return (
            f"{c['done']}/{c['planned']} pairs: {c['linked']} linked, {c['unchanged']} "
            f"unchanged, {c['errors']} errors; {c['ambiguous']} ambiguous, {c['unmatched']} "
            "unmatched"
        )

    def total(self, job: dict[str, Any]) -> int:
        return int(job["counts"]["planned"])

    def done(self, job: dict[str, Any]) -> int:
        return int(job["counts"]["done"])


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
    job = jobwait.wait(a, _path(a, name), job, timeout, Progress(sys.stderr))
    emit(job, fmt, show)
    if job["status"] == "failed" or job["counts"]["errors"]:
        ctx.exit(ERROR)
