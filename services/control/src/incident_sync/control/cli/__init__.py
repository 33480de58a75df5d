"""`im`: the incident-sync command line."""

from __future__ import annotations

import click

from incident_sync.control.cli import dlq as _dlq  # noqa: F401 - adds `integration dlq*`
from incident_sync.control.cli import fieldmaps as _fieldmaps  # noqa: F401 - `field-maps`
from incident_sync.control.cli.admin import audit, keys, token, whoami
from incident_sync.control.cli.backfill import backfill
from incident_sync.control.cli.client import Options
from incident_sync.control.cli.completion import completion
from incident_sync.control.cli.config import complete_context, config
from incident_sync.control.cli.conflict import conflict
from incident_sync.control.cli.declarative import apply, get
from incident_sync.control.cli.fields import platform  # also adds `integration fields`
from incident_sync.control.cli.incident import incident
from incident_sync.control.cli.integration import integration
from incident_sync.control.cli.link import link
from incident_sync.control.cli.manual_sync import sync_records
from incident_sync.control.cli.quarantine import quarantine
from incident_sync.control.cli.reconcile import reconcile
from incident_sync.control.cli.sync import dev, sync


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="incident-sync", prog_name="im")
@click.option("--api-url", envvar="IM_API_URL", help="control API (env IM_API_URL)")
@click.option("--token", envvar="IM_TOKEN", help="bearer token (env IM_TOKEN)")
@click.option("--tenant", envvar="IM_TENANT", help="tenant (env IM_TENANT, default: default)")
@click.option(
    "--ingress-url", envvar="IM_INGRESS_URL", help="the ingress, for `im sync` (env IM_INGRESS_URL)"
)
@click.option(
    "--context",
    envvar="IM_CONTEXT",
    metavar="NAME",
    shell_complete=complete_context,
    help="the im.toml context to use (env IM_CONTEXT, else its current_context)",
)
@click.pass_context
def main(
    ctx: click.Context,
    api_url: str | None,
    token: str | None,
    tenant: str | None,
    ingress_url: str | None,
    context: str | None,
) -> None:
    """Operate incident-sync: integrations, field ownership, sync status, tokens, keys, and
    the local system.

    \b
    Connection: --api-url/--token/--tenant, else IM_API_URL/IM_TOKEN/IM_TENANT, else the
    context in use of ~/.config/incident-sync/im.toml (or IM_CONFIG): --context NAME, else
    IM_CONTEXT, else its current_context ([contexts.NAME] tables with api_url, token,
    tenant, ingress_url, sync_token; `im config get-contexts`, `im config use-context`).
    Every command takes --format/-o table|json|yaml. Shell completion: `im completion bash`.

    \b
    Exit codes: 0 ok; 1 error (server, network, failed test or run); 2 usage or input
    refused (400/422); 3 not found; 4 unauthorized or forbidden; 5 conflict (already
    exists); 6 drift found (`reconcile --fail-on-drift`).

    \b
    Start here:
      im dev up                                   the whole system locally, prints a token
      im integration list
      im integration get prod-snow -o yaml > prod-snow.yaml; im apply -f prod-snow.yaml
      im integration fields prod-snow             what the tool offers: kinds, values, lengths
      im integration field-ownership list prod-snow
      im integration sync-status prod-snow
      im integration sync prod-jira --dry-run     re-read linked records and push them
      im integration link prod-snow --incident 01HXYZ... --record INC0010001
      im integration link prod-snow --auto --by correlation --dry-run   what exists, paired
      im integration dlq prod-snow
      im quarantine list                          messages a stage could not process
      im conflict list --status pending
      im incident timeline INC0010001             every decision about one incident
      im incident explain INC0010001 --field title   why the field holds what it holds, per side
      im integration reconcile prod-snow --dry-run
      im sync incident 01HXYZ... -o json          re-read one record now, through the ingress
      im config get-contexts; im config use-context prod
    """
    ctx.obj = Options(api_url, token, tenant, ingress_url, context)


integration.add_command(sync_records)  # `im integration sync` (its own module)
integration.add_command(link)  # `im integration link`
integration.add_command(backfill)  # `im integration backfill`
main.add_command(integration)
main.add_command(platform)
main.add_command(conflict)
main.add_command(incident)
main.add_command(quarantine)
main.add_command(apply)
main.add_command(get)
main.add_command(audit)
main.add_command(keys)
main.add_command(token)
main.add_command(whoami)
main.add_command(dev)
main.add_command(sync)
main.add_command(config)
main.add_command(completion)
integration.add_command(reconcile)

__all__ = ["main"]
