"""`im integration link NAME --incident ID --record REF`: tie one existing record to one
existing platform incident through the control API, which then syncs the pair once."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import Api, api_command
from incident_sync.control.cli.output import emit


@click.command("link")
@click.argument("name")
@click.option("--incident", "incident", required=True, metavar="ID", help="the platform incident")
@click.option(
    "--record",
    "record",
    required=True,
    metavar="REF",
    help="the record as its users know it: INC0010001, OPS-12, a PagerDuty or Datadog id",
)
@api_command
def link(a: Api, name: str, incident: str, record: str, fmt: str) -> None:
    """Link the existing record REF of NAME to the existing platform incident ID, then sync
    the pair once (ownership and conflict rules decide which values win).

    \b
    Examples:
      im integration link prod-snow --incident 01HXYZ... --record INC0010001
      im integration link prod-jira --incident 01HXYZ... --record OPS-12 --format json
    Rerunning it changes nothing (result `unchanged`). Exits 3 when NAME, the incident or
    the record does not exist, 5 when either is linked elsewhere already (a link is never
    moved).
    """
    body = {"incident": incident, "record": record}
    _, answer = a.call("POST", a.tenant_path(f"/integrations/{name}/links"), json=body)

    def render(r: dict[str, Any]) -> None:
        shown = (
            r["record"] if r["record"] == r["record_id"] else f"{r['record']} ({r['record_id']})"
        )
        if r["result"] == "unchanged":
            click.echo(f"{name}: {shown} was linked to {r['incident']} already: unchanged")
        else:
            click.echo(f"{name}: linked {shown} to {r['incident']}; queued a sync of the pair")

    emit(answer, fmt, render)
