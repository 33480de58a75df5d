"""`im integration reconcile ...`: drift between an integration's records and the platform.

`im integration reconcile NAME --dry-run` asks the reconciler for a run and waits for its
report; `--auto-heal` also sends the corrective changes through the pipeline. `history`,
`show` and `schedule` read and set the rest.
"""

from __future__ import annotations

import time
from typing import Any, Final

import click

from incident_sync.control.cli.client import ERROR, USAGE, Api, api, api_command, fail
from incident_sync.control.cli.output import emit, format_option, key_values, table

MISSING = ("report", "unlink", "recreate")
DRIFT_FOUND: Final = 6  # with --fail-on-drift: discrepancies were found


class DefaultGroup(click.Group):
    """`reconcile NAME ...` runs; `reconcile history|show|schedule ...` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup)
def reconcile() -> None:
    """Compare every linked record with its platform incident, and heal the differences.

    \b
    Examples:
      im integration reconcile prod-snow --dry-run               report only
      im integration reconcile prod-snow --dry-run -o json       the same, for scripts
      im integration reconcile prod-snow --auto-heal             report and correct
      im integration reconcile prod-snow --auto-heal --on-missing recreate
      im integration reconcile history prod-snow
      im integration reconcile show prod-snow rec-1a2b3c4d5e6f
      im integration reconcile schedule prod-snow --interval 1h --auto-heal
      im integration reconcile schedule prod-snow --disable

    A difference is healed the way the pipeline would have synced it: a change one side made
    since the pipeline last saw it (a lost webhook) is taken in; otherwise the owner's (or the
    last synced) value is written where it is missing. A link whose record is gone is reported,
    or unlinked / recreated with --on-missing.
    """


def _path(a: Api, name: str, tail: str = "") -> str:
    return a.tenant_path(f"/integrations/{name}/reconcile{tail}")


def show_run(run: dict[str, Any]) -> None:
    requests = ", ".join(f"{k} {v}" for k, v in sorted(run.get("requests", {}).items()))
    key_values(
        f"reconcile run {run['id']} of {run['integration']}",
        [
            ("mode", run["mode"]),
            ("status", run["status"] + (f": {run['error']}" if run.get("error") else "")),
            ("trigger", f"{run['trigger']} ({run.get('requested_by') or '-'})"),
            ("requested", run["requested_at"]),
            ("duration", f"{run['duration_s']} s" if run.get("duration_s") is not None else "-"),
            ("links compared", run["links"]),
            ("discrepancies", run["discrepancies_found"]),
            ("fixes sent", run["fixes"]),
            ("on missing records", run["on_missing"]),
            ("requests", requests or "-"),
            ("worker", run.get("worker") or "-"),
            *(("note", note) for note in run.get("notes") or []),
            *(
                ("unhealable", f"{d.get('reference') or d['external_id']} {d.get('field')}: "
                 f"{d['reason']}")
                for d in run["discrepancies"] if d.get("reason")
            ),
        ],
    )  # fmt: skip
    if run["discrepancies"]:
        table(
            None,
            ["INCIDENT", "RECORD", "TYPE", "FIELD", "PLATFORM", "TOOL", "HEAL"],
            [
                (d["platform_incident_id"], d.get("reference") or d["external_id"], d["type"],
                 d.get("field") or "", d.get("platform_value"), d.get("external_value"),
                 d["heal"])
                for d in run["discrepancies"]
            ],
        )  # fmt: skip


def _wait(a: Api, name: str, run: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while run["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            fail(
                f"run {run['id']} is still {run['status']} after {timeout_s:g}s (is a reconciler "
                f"running?); see `im integration reconcile show {name} {run['id']}`"
            )
        time.sleep(0.25)
        run = a.get(_path(a, name, f"/runs/{run['id']}"))
    return run


@reconcile.command("run")
@click.argument("name")
@click.option("--dry-run", "mode", flag_value="dry-run", help="report only")
@click.option("--auto-heal", "mode", flag_value="auto-heal", help="report and correct")
@click.option(
    "--on-missing",
    type=click.Choice(MISSING),
    help="a link whose record is gone (default: the schedule's setting, else report)",
)
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="wait for the reconciler's report"
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="seconds to wait for it",
)
@click.option(
    "--fail-on-drift", is_flag=True, help=f"exit with {DRIFT_FOUND} when discrepancies were found"
)
@format_option
@click.pass_context
def run_(ctx: click.Context, name: str, mode: str | None, on_missing: str | None, wait: bool,
         timeout: float, fail_on_drift: bool, fmt: str) -> None:  # fmt: skip
    """Run a reconcile of NAME now (--dry-run or --auto-heal)."""
    if mode is None:
        fail("say how: --dry-run (report only) or --auto-heal (report and correct)", USAGE)
    a = api(ctx)
    body: dict[str, Any] = {"mode": mode}
    if on_missing:
        body["on_missing"] = on_missing
    _, run = a.call("POST", _path(a, name), json=body)
    if wait:
        run = _wait(a, name, run, timeout)
    emit(run, fmt, show_run)
    if run["status"] == "failed":
        ctx.exit(ERROR)
    if fail_on_drift and run["discrepancies_found"]:
        ctx.exit(DRIFT_FOUND)


@reconcile.command("history")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@api_command
def history(a: Api, name: str, limit: int, fmt: str) -> None:
    """Past runs of NAME, newest first: duration, discrepancies, fixes."""
    data = a.get(_path(a, name, "/runs"), params={"limit": limit})

    def render(d: dict[str, Any]) -> None:
        table(
            f"reconcile runs of {name}",
            ["ID", "REQUESTED", "TRIGGER", "MODE", "STATUS", "DURATION", "LINKS",
             "DISCREPANCIES", "FIXES"],
            [
                (r["id"], r["requested_at"], r["trigger"], r["mode"], r["status"],
                 f"{r['duration_s']} s" if r.get("duration_s") is not None else "-",
                 r["links"], r["discrepancies_found"], r["fixes"])
                for r in d["items"]
            ],
        )  # fmt: skip

    emit(data, fmt, render)


@reconcile.command("show")
@click.argument("name")
@click.argument("run_id")
@api_command
def show(a: Api, name: str, run_id: str, fmt: str) -> None:
    """One run of NAME in full: every discrepancy and how it was healed."""
    emit(a.get(_path(a, name, f"/runs/{run_id}")), fmt, show_run)


def _show_schedule(s: dict[str, Any]) -> None:
    key_values(
        f"reconcile schedule of {s['integration']}",
        [
            ("enabled", s["enabled"]),
            ("every", s["interval"]),
            ("mode", "auto-heal" if s["auto_heal"] else "dry-run"),
            ("on missing records", s["on_missing"]),
            ("changed", f"{s['updated_at']} by {s.get('updated_by') or '-'}"),
        ],
    )


@reconcile.command("schedule")
@click.argument("name")
@click.option("--interval", help="how often: seconds, or like 30s, 15m, 1h, 1d")
@click.option(
    "--auto-heal/--dry-run",
    "auto_heal",
    default=None,
    help="what a scheduled run does (default: keep, else dry-run)",
)
@click.option("--enable/--disable", "enabled", default=None, help="switch it on or off")
@click.option("--on-missing", type=click.Choice(MISSING), help="a link whose record is gone")
@api_command
def schedule(a: Api, name: str, interval: str | None, auto_heal: bool | None,
             enabled: bool | None, on_missing: str | None, fmt: str) -> None:  # fmt: skip
    """Show NAME's schedule, or change it (options left out keep their value)."""
    path = _path(a, name, "/schedule")
    if interval is None and auto_heal is None and enabled is None and on_missing is None:
        emit(a.get(path), fmt, _show_schedule)
        return
    status, current = a.call("GET", path, allow=(404,))
    current = current if status == 200 else {}
    if interval is None and "interval_s" not in current:
        fail("a new schedule needs --interval", USAGE)
    body = {
        "interval": interval if interval is not None else current["interval_s"],
        "auto_heal": auto_heal if auto_heal is not None else current.get("auto_heal", False),
        "enabled": enabled if enabled is not None else current.get("enabled", True),
        "on_missing": on_missing or current.get("on_missing", "report"),
    }
    _, saved = a.call("POST", path, json=body)
    emit(saved, fmt, _show_schedule)
