"""`im incident ...`: what the pipeline did about one incident."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import Api, api_command
from incident_sync.control.cli.output import emit, short, table


@click.group()
def incident() -> None:
    """One incident as the pipeline saw it, named by any reference people know.

    \b
      im incident timeline 01HXYZ...          the platform incident's id
      im incident timeline INC0010001         a ServiceNow number, a Jira key, a PagerDuty
                                              or Datadog id of a linked record
      im incident timeline OPS-12 -o json
      im incident explain INC0010001 --field title
    """


def _detail(entry: dict[str, Any]) -> str:
    """The entry's rule and details on one line (ids, status, duration; texts cut short)."""
    parts = [entry["rule"]] if entry.get("rule") else []
    detail = dict(entry.get("detail") or {})
    status, took = detail.pop("status", None), detail.pop("duration_ms", None)
    if status is not None:
        parts.append(f"HTTP {status}")
    if took is not None:
        parts.append(f"{took} ms")
    parts += [f"{k}={v}" for k, v in detail.items()]
    return " ".join(str(p) for p in parts)


@incident.command("timeline")
@click.argument("ref")
@click.option("--limit", type=click.IntRange(1, 100_000), help="only the newest entries")
@api_command
def timeline(a: Api, ref: str, limit: int | None, fmt: str) -> None:
    """Every decision about the incident REF, oldest first: received, dropped (by which
    rule), skipped, conflicts, planned, written (the tool's id, HTTP status, duration),
    retried, dead-lettered, quarantined, healed, linked.

    REF is the platform incident's id, a linked record's id in any integration, or a
    reference the pipeline has seen (a ServiceNow number such as INC0010001). Exit 3 when
    nothing is known by that reference."""
    params = {"limit": limit} if limit is not None else None
    data = a.get(a.tenant_path(f"/incidents/{ref}/timeline"), params=params)

    def render(d: dict[str, Any]) -> None:
        title = f"timeline of incident {d['incident']}"
        if d["ref"] != d["incident"]:
            title += f" ({d['ref']}, by {d['resolved_by']})"
        table(
            title,
            ["TIME", "SIDE", "KIND", "FIELD", "DETAIL"],
            [
                (e["at"], ",".join(e["sides"]), e["kind"], ",".join(e["fields"]), _detail(e))
                for e in d["entries"]
            ],
        )

    emit(data, fmt, render)


VALUE_WIDTH = 60  # characters of a value on the plain line


def _side_line(side: dict[str, Any]) -> str:
    """One side on one line: its name, the value known there (cut short), the sentence."""
    label = side["side"] + (" (platform)" if side["platform"] else "")
    value = side.get("value")
    shown = f" = {short(value, VALUE_WIDTH)!r}" if value is not None else ""
    return f"{label}{shown}: {side['sentence']}"


@incident.command("explain")
@click.argument("ref")
@click.option(
    "--field",
    "field_name",
    required=True,
    metavar="FIELD",
    help="a canonical field (title, status, ...), a tool's alias (short_description) or "
    "a platform custom field (custom.<name>)",
)
@api_command
def explain(a: Api, ref: str, field_name: str, fmt: str) -> None:
    """Why FIELD of the incident REF holds what it holds on each side: one line per side
    (the platform's, then the linked ones), read from the incident's timeline -- written by
    us from which edit, an edit not taken in (ownership, direction, mapping), an echo of our
    write dropped, a conflict parked or resolved, healed by the reconciler, or no decision
    recorded within the timeline's retention.

    REF as for `im incident timeline`. Exit 2 for an unknown field, 3 when nothing is known
    by that reference."""
    data = a.get(a.tenant_path(f"/incidents/{ref}/explain"), params={"field": field_name})

    def render(d: dict[str, Any]) -> None:
        for side in d["sides"]:
            click.echo(_side_line(side))

    emit(data, fmt, render)
