"""`im conflict ...`: conflicts between sides, and settling the ones parked for review."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import USAGE, Api, api_command, fail
from incident_sync.control.cli.output import emit, key_values, table


@click.group()
def conflict() -> None:
    """Two sides changed one field of one incident within the integration's conflict window.

    \b
    Every conflict is recorded. With `--conflict-strategy manual-review` the field is parked
    (nothing propagates for it) until someone settles it here:
      im conflict list --status pending
      im conflict show conflict-1a2b3c4d5e6f
      im conflict resolve conflict-1a2b3c4d5e6f --use-platform
    """


def _side(side: dict[str, Any]) -> str:
    return f"{side['side']}: {side['value']!r} at {side['ts']}"


@conflict.command("list")
@click.option("--status", type=click.Choice(["pending", "resolved"]), help="only these")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@api_command
def list_(a: Api, status: str | None, limit: int, fmt: str) -> None:
    """List conflicts, newest first (those you may see)."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    data = a.get(a.tenant_path("/conflicts"), params=params)

    def render(d: dict[str, Any]) -> None:
        table(
            f"conflicts of {a.tenant}" + (f" ({status})" if status else ""),
            ["ID", "INCIDENT", "FIELD", "INTEGRATION", "STRATEGY", "STATUS", "DETECTED"],
            [
                (c["id"], c["platform_incident_id"], c["field"], c["integration_id"],
                 c["strategy"], c["status"] + (f" ({c['resolution']})" if c["resolution"] else ""),
                 c["detected_at"])
                for c in d["items"]
            ],
        )  # fmt: skip

    emit(data, fmt, render)


def show(c: dict[str, Any]) -> None:
    key_values(
        f"conflict {c['id']}",
        [
            ("incident", c["platform_incident_id"]),
            ("field", c["field"]),
            ("integration", f"{c['integration_id']} ({c['strategy']})"),
            ("platform side", _side(c["platform"])),
            ("external side", _side(c["external"])),
            ("status", c["status"]),
            ("resolution", c.get("resolution") or "-"),
            ("winner", c.get("winner") or "-"),
            ("resolver", c.get("resolver") or "-"),
            ("detected", c["detected_at"]),
            ("resolved", c.get("resolved_at") or "-"),
        ],
    )


@conflict.command("show")
@click.argument("conflict_id")
@api_command
def show_(a: Api, conflict_id: str, fmt: str) -> None:
    """Both values, their times, and how (or whether) it was settled."""
    emit(a.get(a.tenant_path(f"/conflicts/{conflict_id}")), fmt, show)


@conflict.command("resolve")
@click.argument("conflict_id")
@click.option(
    "--use-platform",
    "choice",
    flag_value="use-platform",
    help="the platform's value goes to every side",
)
@click.option(
    "--use-external",
    "choice",
    flag_value="use-external",
    help="the tool's value goes to every side",
)
@click.option(
    "--ignore",
    "choice",
    flag_value="ignore",
    help="unpark the field; each side keeps what it shows",
)
@api_command
def resolve(a: Api, conflict_id: str, choice: str | None, fmt: str) -> None:
    """Settle a pending conflict. It is applied in order with the incident's other changes."""
    if choice is None:
        fail("say how: --use-platform, --use-external or --ignore", USAGE)
    _, settled = a.call(
        "POST", a.tenant_path(f"/conflicts/{conflict_id}/resolve"), json={"resolution": choice}
    )
    emit(settled, fmt, show)
