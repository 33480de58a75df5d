"""`im integration backfill NAME`: ask the control API for a backfill job (every existing
platform incident the integration would have synced gets its record there), wait for the
reconciler to carry it out (its progress on stderr, `cli.jobwait`), then print the report
(or `-o json`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from incident_sync.control.cli import jobwait
from incident_sync.control.cli.client import ERROR, Api, api_command
from incident_sync.control.cli.output import emit, key_values, short, table

SHOWN_LEFT_OUT = 50  # incidents left out listed per reason in the table (-o json has more)


def _path(a: Api, name: str) -> str:
    return a.tenant_path(f"/integrations/{name}/backfill-jobs")


class Progress(jobwait.Progress):
    """A backfill's progress: incidents settled (linked, or refused) of those selected."""

    verb = "backfilling"

    def before(self, job: dict[str, Any]) -> str | None:
        return None if job["selected"] else "listing the platform's incidents"

    def counts(self, job: dict[str, Any]) -> str:
        c = job["counts"]
        return (
            f"{self.done(job)}/{c['selected']} incidents: {c['published']} published, "
            f"{c['created']} created, {c['failed']} failed; {c['already_linked']} already "
            f"linked, {c['not_matching']} not matching, {c['closed']} closed"
        )

    def total(self, job: dict[str, Any]) -> int:
        return int(job["counts"]["selected"])

    def done(self, job: dict[str, Any]) -> int:
        c = job["counts"]
        return int(c["created"] + c["failed"] + c["linked_meanwhile"])


def show(job: dict[str, Any]) -> None:
    c = job["counts"]
    verb = "backfill (dry run: nothing created)" if job["dry_run"] else "backfill"
    key_values(
        f"{verb} {job['id']} of {job['integration']}, {job['status_filter']} incidents",
        [
            ("status", job["status"] + (f": {job['error']}" if job.get("error") else "")),
            ("selected", c["selected"]),
            *(() if job["dry_run"] else (
                ("created", c["created"]),
                ("already linked", c["already_linked"] + c["linked_meanwhile"]),
                ("failed", c["failed"]),
                ("still pending", c["pending"]),
            )),
            ("not matching the trigger", c["not_matching"]),
            ("closed (left out)", c["closed"]),
            ("detached (record deleted there)", c["detached"]),
            ("listed", ", ".join(f"{k} {v}" for k, v in sorted(job["listed"].items())) or "-"),
            ("requests", ", ".join(f"{k} {v}" for k, v in sorted(job["requests"].items())) or "-"),
            ("resumed", job["resumed"]),
            ("duration", f"{job['duration_s']} s" if job.get("duration_s") is not None else "-"),
        ],
    )  # fmt: skip
    if job["items"]:
        table(
            "incidents",
            ["INCIDENT", "TITLE", "RESULT", "RECORD"],
            [
                (i.get("reference") or i["incident"], short(i.get("title") or "", 40),
                 i["result"] + (f": {i['error']}" if i.get("error") else ""), i.get("record") or "")
                for i in job["items"]
            ],
        )  # fmt: skip
    left_out = [("not matching", i) for i in job["not_matching"]] + [
        ("closed", i) for i in job["closed"]
    ]
    if left_out:
        more = len(left_out) - SHOWN_LEFT_OUT
        table(
            "left out" + (f" (the first {SHOWN_LEFT_OUT}; -o json lists more)" if more > 0 else ""),
            ["WHY", "INCIDENT"],
            left_out[:SHOWN_LEFT_OUT],
        )
    for error in job["errors"]:
        click.echo(f"error: {error}", err=True)


@click.command("backfill")
@click.argument("name")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    metavar="AGE",
    help="incidents made or changed this long ago at most (12h, 30d, seconds)",
)
@click.option(
    "--status",
    "status",
    type=click.Choice(("open", "all")),
    default="open",
    show_default=True,
    help="open incidents only, or closed ones too",
)
@click.option("--dry-run", is_flag=True, help="list the incidents, create nothing")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="seconds to wait for the job",
)
@api_command
@click.pass_context
def backfill(ctx: click.Context, a: Api, name: str, since: str, status: str, dry_run: bool,
             timeout: float, fmt: str) -> None:  # fmt: skip
    """Create the record in NAME of every existing platform incident that matches its trigger
    and has none, through the pipeline (the correlation search first, the rate limit, the
    DLQ on a refusal), and report what became of each.

    \b
      im integration backfill prod-snow --since 30d --dry-run
      im integration backfill prod-snow --status all -o json
    Rerunning creates nothing twice (what is linked is left out). Exit 1 when the job failed
    or an incident was not linked (failed, or still pending).
    """
    body: dict[str, object] = {
        "since": int(since) if since.isdigit() else since, "status": status, "dry_run": dry_run,
    }  # fmt: skip
    _, job = a.call("POST", _path(a, name), json=body)
    job = jobwait.wait(a, _path(a, name), job, timeout, Progress(sys.stderr))
    emit(job, fmt, show)
    c = job["counts"]
    if job["status"] == "failed" or (not job["dry_run"] and (c["failed"] or c["pending"])):
        ctx.exit(ERROR)
