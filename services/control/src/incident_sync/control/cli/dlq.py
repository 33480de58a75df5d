"""`im integration dlq`, `dlq-retry`, `dlq-discard`: the writes the delivery gave up on.

The commands join the `integration` group (an integration's DLQ is one of its views); they
live here to keep that module to integrations themselves.
"""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli import queues
from incident_sync.control.cli.client import Api, api_command
from incident_sync.control.cli.integration import integration
from incident_sync.control.cli.output import emit, short, table

REASONS = ("rejected", "exhausted", "internal")


def _path(name: str, tail: str = "") -> str:
    return f"/integrations/{name}/dlq{tail}"


def _command(entry: dict[str, Any]) -> str:
    cmd = entry["command"]
    what = "create" if cmd.get("target_external_id") is None else cmd["target_external_id"]
    fields = ",".join(sorted(cmd.get("set_fields") or {})) or "-"
    return f"{cmd['platform_incident_id']} -> {what} ({fields})"


@integration.command("dlq")
@click.argument("name")
@click.option(
    "--reason",
    type=click.Choice(REASONS),
    help="rejected: the tool refused the write; exhausted: every attempt failed",
)
@click.option("--grep", "contains", metavar="TEXT", help="the last error contains TEXT")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@api_command
def dlq(
    a: Api, name: str, reason: str | None, contains: str | None, limit: int, fmt: str
) -> None:  # fmt: skip
    """The dead-letter queue of NAME, newest first: each entry's reason, attempts and the
    tool's last answer.

    \b
      im integration dlq prod-snow
      im integration dlq prod-snow --reason rejected -o json
      im integration dlq-retry prod-snow dlq-1a2b3c4d5e6f
    """
    params: dict[str, Any] = {"limit": limit}
    if reason:
        params["reason"] = reason
    if contains:
        params["contains"] = contains
    data = a.get(a.tenant_path(_path(name)), params=params)

    def render(d: dict[str, Any]) -> None:
        table(
            f"DLQ of {a.tenant}/{name}: {d['depth']} entries",
            ["ENTRY", "REASON", "ATTEMPTS", "DIED", "WRITE", "LAST ERROR"],
            [
                (e["id"], e["reason"], e["attempts"], e["dead_at"], _command(e),
                 short(e["last_error"], 80))
                for e in d["items"]
            ],
        )  # fmt: skip

    emit(data, fmt, render)


@integration.command("dlq-retry")
@click.argument("name")
@queues.retry_options
@click.option("--reason", type=click.Choice(REASONS), help="with --all: only these")
@click.option("--grep", "contains", metavar="TEXT", help="with --all: last error contains TEXT")
@api_command
def dlq_retry(
    a: Api,
    name: str,
    entry: str | None,
    everything: bool,
    reason: str | None,
    contains: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Deliver ENTRY of NAME's DLQ again (a fresh attempt 1 of the retry ladder), or with
    --all every entry matching the filters, oldest first. A retried write lands only if it is
    still the newest value of its fields.

    \b
      im integration dlq-retry prod-snow dlq-1a2b3c4d5e6f
      im integration dlq-retry prod-snow --all --reason exhausted --dry-run
      im integration dlq-retry prod-snow --all --grep "HTTP 503"
    """
    queues.retry(
        a,
        entry,
        everything,
        dry_run,
        {"reason": ("--reason", reason), "contains": ("--grep", contains)},
        path=_path(name),
        where="DLQ",
        fmt=fmt,
    )


@integration.command("dlq-discard")
@click.argument("name")
@click.argument("entry")
@queues.yes_option
@api_command
def dlq_discard(a: Api, name: str, entry: str, yes: bool, fmt: str) -> None:
    """Give up ENTRY of NAME's DLQ for good (its write is never made)."""
    queues.confirm(yes, f"discard {entry} of {a.tenant}/{name}?")
    _, data = a.call("DELETE", a.tenant_path(_path(name, f"/{entry}")))
    emit(data, fmt, lambda d: click.echo(f"discarded {d['id']} ({_command(d)})"))
