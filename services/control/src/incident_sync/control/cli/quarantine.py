"""`im quarantine ...`: the messages a stage could not process, kept with their stage, error
and original bytes until they are retried (back to the stage where they failed) or discarded."""

from __future__ import annotations

import base64
from typing import Any

import click

from incident_sync.control.cli import queues
from incident_sync.control.cli.client import Api, api_command
from incident_sync.control.cli.output import emit, key_values, short, table

STAGES = ("gate", "arbiter", "delivery", "relay", "reconciler")
PREVIEW = 400  # characters of the value a table shows


@click.group()
def quarantine() -> None:
    """Messages a stage could not process: undecodable, a bug, a request the connector cannot
    build, a record too large to produce. (The writes a tool refused are in `im integration
    dlq`.) Each entry names its stage, the error and where it was read; a retry sends its
    original bytes back to that stage, once the cause is fixed.

    \b
      im quarantine list
      im quarantine list --integration prod-snow --stage gate -o json
      im quarantine show qr-0123456789abcdef
      im quarantine retry qr-0123456789abcdef
      im quarantine retry --all --stage arbiter --dry-run
      im quarantine discard qr-0123456789abcdef
    """


def _source(e: dict[str, Any]) -> str:
    if e.get("source_topic") is None:
        return f"(not published) -> {e['retry_topic']}"
    return f"{e['source_topic']}/{e['partition']}@{e['offset']}"


def _filters(integration: str | None, stage: str | None, contains: str | None) -> dict[str, Any]:
    given = {"integration": integration, "stage": stage, "contains": contains}
    return {k: v for k, v in given.items() if v}


@quarantine.command("list")
@click.option("--integration", metavar="NAME", help="only this integration's entries")
@click.option("--stage", type=click.Choice(STAGES), help="only this stage's entries")
@click.option("--grep", "contains", metavar="TEXT", help="the error contains TEXT")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@api_command
def list_(
    a: Api,
    integration: str | None,
    stage: str | None,
    contains: str | None,
    limit: int,
    fmt: str,
) -> None:
    """The quarantine, newest first: each entry's stage, integration, error and source."""
    params = {"limit": limit, **_filters(integration, stage, contains)}
    data = a.get(a.tenant_path("/quarantine"), params=params)

    def render(d: dict[str, Any]) -> None:
        table(
            f"quarantine of {a.tenant}: {d['depth']} entries",
            ["ENTRY", "STAGE", "INTEGRATION", "SINCE", "SOURCE", "BYTES", "ERROR"],
            [
                (e["id"], e["stage"], e["integration_id"] or "-", e["quarantined_at"],
                 _source(e), e["size"], short(f"{e['error_type']}: {e['error']}", 70))
                for e in d["items"]
            ],
        )  # fmt: skip

    emit(data, fmt, render)


def _preview(value: str) -> str:
    raw = base64.b64decode(value)
    text = raw[:PREVIEW].decode("utf-8", "backslashreplace")
    return text + (f"… ({len(raw)} bytes)" if len(raw) > PREVIEW else "")


@quarantine.command("show")
@click.argument("entry")
@api_command
def show(a: Api, entry: str, fmt: str) -> None:
    """One entry: the whole error, the key and headers, and the original bytes (base64 in
    json/yaml; the table shows their start as text)."""
    data = a.get(a.tenant_path(f"/quarantine/{entry}"))

    def render(e: dict[str, Any]) -> None:
        key_values(
            f"quarantine entry {e['id']}",
            [
                ("stage", e["stage"]),
                ("integration", e["integration_id"] or "- (the tenant's)"),
                ("since", e["quarantined_at"]),
                ("source", _source(e)),
                ("retry goes to", e["retry_topic"]),
                ("error", f"{e['error_type']}: {e['error']}"),
                ("key", e.get("key_text") or e.get("key") or "-"),
                ("headers", [h[0] for h in e["headers"]]),
                ("value", _preview(e["value"])),
            ],
        )

    emit(data, fmt, render)


@quarantine.command("retry")
@queues.retry_options
@click.option("--integration", metavar="NAME", help="with --all: only this integration's")
@click.option("--stage", type=click.Choice(STAGES), help="with --all: only this stage's")
@click.option("--grep", "contains", metavar="TEXT", help="with --all: the error contains TEXT")
@api_command
def retry(
    a: Api,
    entry: str | None,
    everything: bool,
    integration: str | None,
    stage: str | None,
    contains: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Send ENTRY's original message back to the stage where it failed, or with --all every
    entry matching the filters, oldest first. Fix the cause first: a message that fails
    again comes back as a new entry.
    """
    filters = {
        "integration": ("--integration", integration),
        "stage": ("--stage", stage),
        "contains": ("--grep", contains),
    }
    queues.retry(
        a,
        entry,
        everything,
        dry_run,
        filters,
        path="/quarantine",
        where="quarantine",
        fmt=fmt,
    )


@quarantine.command("discard")
@click.argument("entry")
@queues.yes_option
@api_command
def discard(a: Api, entry: str, yes: bool, fmt: str) -> None:
    """Give ENTRY up for good (its message is never processed)."""
    queues.confirm(yes, f"discard {entry} of {a.tenant}?")
    _, data = a.call("DELETE", a.tenant_path(f"/quarantine/{entry}"))
    emit(data, fmt, lambda d: click.echo(f"discarded {d['id']} ({d['stage']}: {d['error_type']})"))
