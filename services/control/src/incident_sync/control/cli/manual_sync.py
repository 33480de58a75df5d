"""`im integration sync NAME [--record ID] [--dry-run]`: manual sync through the control API
(re-read linked records and push them to the platform and the other tools)."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import Api, api_command
from incident_sync.control.cli.output import emit, table


@click.command("sync")
@click.argument("name")
@click.option(
    "--record",
    "record_id",
    metavar="ID",
    help="only this linked record (a Jira issue id, a PagerDuty incident id, ...)",
)
@click.option(
    "--dry-run", is_flag=True, help="list the records that would be synced, queue nothing"
)
@api_command
def sync_records(a: Api, name: str, record_id: str | None, dry_run: bool, fmt: str) -> None:
    """Re-read every record of NAME linked to an incident (or one, with --record) and push
    what it holds to the platform and the other linked tools.

    \b
    Examples:
      im integration sync prod-jira --dry-run
      im integration sync prod-jira
      im integration sync prod-jira --record 10042 --format json
    Exits 3 when NAME (or the record's link) does not exist, 5 for an outbound-only
    integration (its records are never read: use `im sync incident ID`).
    """
    path = a.tenant_path(f"/integrations/{name}/sync" + (f"/{record_id}" if record_id else ""))
    _, answer = a.call("POST", path, params={"dry_run": "true"} if dry_run else None)

    def render(r: dict[str, Any]) -> None:
        verb = "would sync" if r["dry_run"] else "queued a sync of"
        records = r["records"]
        click.echo(f"{r['tenant']}/{r['integration']}: {verb} {len(records)} linked record(s)")
        if records:
            rows = [(s["record_id"], s["incident_id"], s.get("event_id")) for s in records]
            table(None, ("record", "incident", "event"), rows)

    emit(answer, fmt, render)
