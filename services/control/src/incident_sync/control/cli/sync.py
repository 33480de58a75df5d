"""`im dev up` and `im sync ...`: the local system, and manual syncs through the ingress (the
same client, exit codes and `-o` as every other command: `cli.client`)."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

import click

from incident_sync.control.cli.client import INGRESS, api
from incident_sync.control.cli.output import emit, format_option


@click.group()
def dev() -> None:
    """Run the whole system on this machine."""


@dev.command("up")
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Run the scripted round trip once everything is ready.",
)
@click.option(
    "--redis-cluster",
    is_flag=True,
    help="Run a Redis Cluster of three masters instead of one redis-server.",
)
def dev_up(demo: bool, redis_cluster: bool) -> None:
    """Start broker, redis-server, sandbox tools and all services; Ctrl-C stops them."""
    try:
        from incident_sync.devstack.demo import run
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("incident_sync.devstack"):
            raise
        # The production install has no developer kit (libs/devkit is its own distribution).
        click.echo(
            "error: `im dev up` needs the developer kit: pip install incident-sync-devkit "
            "(from a checkout: make run)",
            err=True,
        )
        sys.exit(2)

    run(demo=demo, redis_cluster=redis_cluster)


@click.group()
def sync() -> None:
    """Ask the ingress to re-read a record and push it to the other side now.

    \b
    The ingress: --ingress-url, else IM_INGRESS_URL, else the context's ingress_url, else
    http://127.0.0.1:8080; its token (the ingress's SYNC_API_TOKEN): SYNC_API_TOKEN, else
    the context's sync_token. Exit codes as every command: 3 when the tool has no such
    record, 4 without a valid token, 1 when the ingress cannot be reached.
    """


def _post(ctx: click.Context, path: str, body: dict[str, object] | None, fmt: str) -> None:
    _, answer = api(ctx, INGRESS).call("POST", path, json=body)

    def render(a: dict[str, Any]) -> None:
        click.echo(f"queued a sync of {path.removeprefix('/sync/')}: event {a.get('event_id')}")

    emit(answer, fmt, render)


def _fields(fields: tuple[str, ...]) -> dict[str, object] | None:
    return {"updated_fields": list(fields)} if fields else None


_FIELDS = click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="FIELD",
    help="Limit to these fields of the tool (repeatable), e.g. --field short_description.",
)


@sync.command("incident")
@click.argument("incident_id")
@format_option
@click.pass_context
def sync_incident(ctx: click.Context, incident_id: str, fmt: str) -> None:
    """Re-read INCIDENT_ID in incident.io and push it to every linked tool.

    Exits 3 when incident.io has no such incident.
    """
    _post(ctx, f"/sync/incident/{quote(incident_id, safe='')}", None, fmt)


@sync.command("servicenow")
@click.argument("sys_id")
@_FIELDS
@format_option
@click.pass_context
def sync_servicenow(ctx: click.Context, sys_id: str, fields: tuple[str, ...], fmt: str) -> None:
    """Re-read the ServiceNow incident SYS_ID and push it to incident.io."""
    _post(ctx, f"/sync/servicenow/{quote(sys_id, safe='')}", _fields(fields), fmt)


@sync.command("record")
@click.argument("integration")
@click.argument("record_id")
@_FIELDS
@format_option
@click.pass_context
def sync_record(
    ctx: click.Context, integration: str, record_id: str, fields: tuple[str, ...], fmt: str
) -> None:
    """Re-read RECORD_ID of INTEGRATION (a Jira issue id, a PagerDuty incident id, ...) and
    push it to the platform.

    Exits 3 when no such integration is configured or its tool has no such record.
    """
    _post(
        ctx,
        f"/sync/{quote(integration, safe='')}/{quote(record_id, safe='')}",
        _fields(fields),
        fmt,
    )
