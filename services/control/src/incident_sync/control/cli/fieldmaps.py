"""`im integration field-maps ...`: an integration's field maps, one at a time.

`set` and `unset` change the integration's `field_maps` through the control API (a PATCH of
the whole list, which the API checks against both sides' fields and refuses with every
problem named); `--dry-run` and `check` ask the API's check without storing anything.
"""

from __future__ import annotations

import json
from typing import Any

import click

from incident_sync.control.cli.client import ERROR, NOT_FOUND, USAGE, Api, api_command, fail
from incident_sync.control.cli.integration import DIRECTIONS, integration
from incident_sync.control.cli.output import emit, short, table

UNMAPPED = ("skip", "default", "refuse")


@integration.group("field-maps")
def field_maps() -> None:
    """Map any platform field to any tool field, both ways or one.

    \b
    A platform field is a canonical one (title, severity, ...) or a custom field,
    custom.<Field name> (`im platform fields`); a tool field is the tool's own name
    (`im integration fields NAME`). A value map says what each value becomes; a value
    it does not name is skipped, written as a default, or refused (dead-lettered with
    the reason).

    \b
      im integration field-maps set prod-snow "custom.Affected team" assignment_group \\
          --value Payments="Payments Support" --value Search="Search Support" \\
          --unmapped refuse
      im integration field-maps set prod-snow "custom.Affected service" cmdb_ci --dry-run
      im integration field-maps list prod-snow
      im integration field-maps unset prod-snow "custom.Affected service" cmdb_ci
      im integration field-maps check prod-snow --file maps.json
    """


def _path(a: Api, name: str, tail: str = "") -> str:
    return f"/api/v1/tenants/{a.tenant}/integrations/{name}{tail}"


def _pairs(option: str, given: tuple[str, ...]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} takes FROM=TO, not {item!r}", USAGE)
        out[key] = value
    return out or None


def _value_map(**given: Any) -> dict[str, Any] | None:
    values = _pairs("--value", given["values"])
    reverse = _pairs("--reverse", given["reverse"])
    if values is None:
        if reverse or given["default"] or given["reverse_default"] or given["unmapped"]:
            fail("--reverse, --unmapped and the defaults need --value FROM=TO", USAGE)
        return None
    out: dict[str, Any] = {"values": values, "unmapped": given["unmapped"] or "skip"}
    for key in ("reverse", "default", "reverse_default"):
        value = reverse if key == "reverse" else given[key]
        if value is not None:
            out[key] = value
    return out


def show_maps(view: dict[str, Any]) -> None:
    rows = []
    for m in view.get("field_maps") or ():
        values = m.get("value_map") or {}
        how = ", ".join(f"{k}={v}" for k, v in (values.get("values") or {}).items())
        if values:
            how += f" (unmapped: {values.get('unmapped', 'skip')})"
        shown = short(m.get("template") or how, 60)
        rows.append((m["platform"], m["tool"], m["direction"], shown))
    columns = ["PLATFORM FIELD", "TOOL FIELD", "DIRECTION", "VALUES"]
    table(f"field maps of {view['name']}", columns, rows)


def show_check(checked: dict[str, Any]) -> None:
    if checked["valid"]:
        click.echo(f"{checked['integration']}: the field maps hold against both sides' fields")
        return
    table(f"{checked['integration']}: problems", ["PROBLEM"], [(p,) for p in checked["problems"]])


def _check(a: Api, name: str, maps: list[dict[str, Any]], fmt: str) -> None:
    _, checked = a.call("POST", _path(a, name, "/field-maps/check"), json={"field_maps": maps})
    emit(checked, fmt, show_check)
    if not checked["valid"]:
        raise SystemExit(ERROR)


def _write(a: Api, name: str, maps: list[dict[str, Any]], fmt: str) -> None:
    _, view = a.call("PATCH", _path(a, name), json={"field_maps": maps})
    emit(view, fmt, show_maps)


@field_maps.command("list")
@click.argument("name")
@api_command
def list_maps(a: Api, name: str, fmt: str) -> None:
    """The field maps of NAME."""
    emit(a.get(_path(a, name)), fmt, show_maps)


@field_maps.command("set")
@click.argument("name")
@click.argument("platform_field")
@click.argument("tool_field")
@click.option(
    "--direction", type=click.Choice(DIRECTIONS), default="bidirectional", show_default=True
)
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="PLATFORM=TOOL",
    help="a value map entry (repeatable)",
)
@click.option(
    "--reverse",
    multiple=True,
    metavar="TOOL=PLATFORM",
    help="an entry of the way back, when --value is not one-to-one (repeatable)",
)
@click.option(
    "--unmapped",
    type=click.Choice(UNMAPPED),
    help="a value the map does not name: skip (default), default, or refuse",
)
@click.option("--default", help="the tool's value for an unmapped one (--unmapped default)")
@click.option("--reverse-default", help="the platform's value for an unmapped tool value")
@click.option("--template", help="outbound text with {field} placeholders")
@click.option("--dry-run", is_flag=True, help="check against both tools; store nothing")
@api_command
def set_map(
    a: Api, /, name: str, platform_field: str, tool_field: str, direction: str,
    template: str | None, dry_run: bool, fmt: str, **given: Any,
) -> None:  # fmt: skip
    """Map PLATFORM_FIELD of the platform to TOOL_FIELD of NAME (replacing a map of the same
    two fields)."""
    mapping: dict[str, Any] = {"platform": platform_field, "tool": tool_field}
    mapping["direction"] = direction
    if (value_map := _value_map(**given)) is not None:
        mapping["value_map"] = value_map
    if template is not None:
        mapping["template"] = template
    current = a.get(_path(a, name)).get("field_maps") or []
    maps = [m for m in current if (m["platform"], m["tool"]) != (platform_field, tool_field)]
    maps.append(mapping)
    if dry_run:
        _check(a, name, maps, fmt)
    else:
        _write(a, name, maps, fmt)


@field_maps.command("unset")
@click.argument("name")
@click.argument("platform_field")
@click.argument("tool_field")
@api_command
def unset_map(a: Api, name: str, platform_field: str, tool_field: str, fmt: str) -> None:
    """Remove the map of PLATFORM_FIELD to TOOL_FIELD from NAME."""
    current = a.get(_path(a, name)).get("field_maps") or []
    maps = [m for m in current if (m["platform"], m["tool"]) != (platform_field, tool_field)]
    if len(maps) == len(current):
        fail(f"{name} has no map of {platform_field!r} to {tool_field!r}", NOT_FOUND)
    _write(a, name, maps, fmt)


@field_maps.command("check")
@click.argument("name")
@click.option(
    "--file",
    "path",
    type=click.File("rb"),
    required=True,
    help="a JSON list of field maps (or an object with `field_maps`), - for stdin",
)
@api_command
def check_maps(a: Api, name: str, path: Any, fmt: str) -> None:
    """Check the field maps in a file against NAME's tool and the platform (stores nothing;
    exit 1 when any problem is found)."""
    try:
        doc = json.loads(path.read())
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{path.name}: not JSON ({exc})", USAGE)
    maps = doc.get("field_maps") if isinstance(doc, dict) else doc
    if not isinstance(maps, list):
        fail(f"{path.name}: expected a list of field maps or an object with field_maps", USAGE)
    _check(a, name, maps, fmt)
