"""`im integration fields NAME` and `im platform fields`: the fields a tool offers, read from
the tool itself through the control API (`GET .../fields`)."""

from __future__ import annotations

from typing import Any, Final

import click

from incident_sync.control.cli.client import Api, api_command
from incident_sync.control.cli.integration import integration
from incident_sync.control.cli.output import emit, short, table

ALLOWED_WIDTH: Final = 40  # the allowed values, cut to fit one line of a terminal
COLUMNS: Final = ("NAME", "LABEL", "KIND", "REQUIRED", "ALLOWED", "MAX LENGTH")


def kind(field: dict[str, Any]) -> str:
    """The kind, with what a reference points to, and `read-only` where nothing is taken."""
    text = str(field["kind"])
    if field.get("reference"):
        text += f" -> {field['reference']}"
    return text if field.get("writable", True) else f"{text} (read-only)"


def allowed(field: dict[str, Any]) -> str:
    values = field.get("allowed")
    if values is None:
        return ""
    return short(", ".join(values), ALLOWED_WIDTH) if values else "(none)"


def show_fields(listed: dict[str, Any]) -> None:
    rows = [
        (
            f["name"],
            f["label"],
            kind(f),
            "yes" if f["required"] else "",
            allowed(f),
            f.get("max_length") or "",
        )
        for f in listed["fields"]
    ]
    table(f"{listed['name']} ({listed['type']}): {len(rows)} fields", COLUMNS, rows)


@integration.command("fields")
@click.argument("name")
@api_command
def integration_fields(a: Api, name: str, fmt: str) -> None:
    """The fields NAME's tool offers, read from the tool now: each field's name (the one a
    mapping names), label, kind (-> what a reference points to), whether it is required,
    its allowed values (cut to fit; -o json lists them all) and its maximum length.
    Exits 1 when the tool cannot be reached or refuses, 5 when its type lists no fields.

    \b
    Examples:
      im integration fields prod-snow
      im integration fields prod-snow -o json | jq '.fields[] | select(.required)'
    """
    emit(a.get(a.tenant_path(f"/integrations/{name}/fields")), fmt, show_fields)


@click.group()
def platform() -> None:
    """The tenant's platform connection (its settings: `im get platform`, `im apply`)."""


@platform.command("fields")
@api_command
def platform_fields(a: Api, fmt: str) -> None:
    """The platform's fields: its built-in fields by their canonical names (title,
    description, status, severity, assignee) and its custom fields (`custom.<name>`; the
    priority and comment fields by those names) with their options.

    \b
    Examples:
      im platform fields
      im platform fields -o yaml
    """
    emit(a.get(a.tenant_path("/platform/fields")), fmt, show_fields)
