"""`im dev up` and `im sync ...`: the local system, and manual syncs through the ingress."""

from __future__ import annotations

import os
import sys

import click
import httpx
import orjson

from incident_sync.control.cli.client import exit_code


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
def dev_up(demo: bool) -> None:
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

    run(demo=demo)


@click.group()
def sync() -> None:
    """Ask the ingress to re-read a record and push it to the other side now."""


def _ingress() -> str:
    return os.environ.get("IM_INGRESS_URL", "http://127.0.0.1:8080")


def _post(path: str, body: dict[str, object] | None) -> None:
    token = os.environ.get("SYNC_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(f"{_ingress()}{path}", json=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot reach the ingress at {_ingress()}: {exc}", err=True)
        sys.exit(2)
    click.echo(orjson.dumps(response.json(), option=orjson.OPT_INDENT_2).decode())
    if response.status_code >= 400:
        sys.exit(exit_code(response.status_code))  # 3: no such record in its tool


@sync.command("incident")
@click.argument("incident_id")
def sync_incident(incident_id: str) -> None:
    """Re-read INCIDENT_ID in incident.io and push it to every linked tool.

    The ingress URL comes from IM_INGRESS_URL (default http://127.0.0.1:8080), the token
    from SYNC_API_TOKEN. Exits 3 when incident.io has no such incident.
    """
    _post(f"/sync/incident/{incident_id}", None)


@sync.command("servicenow")
@click.argument("sys_id")
@click.option(
    "--field",
    "fields",
    multiple=True,
    help="Limit to these ServiceNow fields (repeatable), e.g. --field short_description.",
)
def sync_servicenow(sys_id: str, fields: tuple[str, ...]) -> None:
    """Re-read the ServiceNow incident SYS_ID and push it to incident.io."""
    _post(f"/sync/servicenow/{sys_id}", {"updated_fields": list(fields)} if fields else None)
