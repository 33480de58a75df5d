"""`im integration link NAME --incident ID --record REF`: tie one existing record to one
existing platform incident through the control API, which then syncs the pair once; `--auto
--by ...` matches and links them in bulk (`cli.linkauto`)."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import USAGE, Api, api_command, fail
from incident_sync.control.cli.linkauto import run_auto
from incident_sync.control.cli.output import emit

BY = ("correlation", "reference", "title")
INITIAL = ("platform", "external", "newer")


@click.command("link")
@click.argument("name")
@click.option("--incident", "incident", metavar="ID", help="the platform incident")
@click.option(
    "--record",
    "record",
    metavar="REF",
    help="the record as its users know it: INC0010001, OPS-12, a PagerDuty or Datadog id",
)
@click.option("--auto", is_flag=True, help="match existing incidents and records, and link them")
@click.option("--by", type=click.Choice(BY), help="with --auto: how a pair is matched")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    metavar="AGE",
    help="with --auto: what was made or changed this long ago at most (12h, 30d, seconds)",
)
@click.option("--dry-run", is_flag=True, help="with --auto: print the plan, link nothing")
@click.option(
    "--initial",
    type=click.Choice(INITIAL),
    help="with --auto: who wins each field at first link, within field ownership (newer: "
    "the side changed last); default: the record is read and the usual rules decide",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="with --auto: seconds to wait for the job",
)
@api_command
@click.pass_context
def link(ctx: click.Context, a: Api, name: str, incident: str | None, record: str | None,
         auto: bool, by: str | None, since: str, dry_run: bool, initial: str | None,
         timeout: float, fmt: str) -> None:  # fmt: skip
    """Link the existing record REF of NAME to the existing platform incident ID, then sync
    the pair once (ownership and conflict rules decide which values win); or, with --auto,
    every pair that matches.

    \b
    Examples:
      im integration link prod-snow --incident 01HXYZ... --record INC0010001
      im integration link prod-jira --incident 01HXYZ... --record OPS-12 --format json
      im integration link prod-snow --auto --by correlation --since 30d --dry-run
      im integration link prod-snow --auto --by title -o json
      im integration link prod-jira --auto --by reference --initial platform
    Rerunning either changes nothing (result `unchanged`; --auto leaves what is linked out).
    --auto matches by the correlation field, a reference written in a field, or the title
    (within two hours); a match that is not the only one both ways is listed as ambiguous
    and never linked. Exits 3 when NAME, the incident or the record does not exist, 5 when
    either is linked elsewhere already (a link is never moved), 1 when a job failed or left
    a pair unlinked.
    """
    if auto:
        if incident or record:
            fail("--auto matches the pairs itself: leave out --incident and --record", USAGE)
        if by is None:
            fail("say how --auto matches: --by correlation, reference or title", USAGE)
        run_auto(ctx, a, name, by=by, since=since, dry_run=dry_run, initial=initial,
                 timeout=timeout, fmt=fmt)  # fmt: skip
        return
    if not incident or not record:
        fail("name the pair (--incident ID --record REF), or match them with --auto --by", USAGE)
    if by or dry_run or initial:
        fail("--by, --dry-run and --initial go with --auto", USAGE)
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
