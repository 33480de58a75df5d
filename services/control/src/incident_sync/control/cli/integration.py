"""`im integration ...`: one integration at a time."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from incident_sync.connectors.registry import registered_types
from incident_sync.control.cli import queues
from incident_sync.control.cli.client import ERROR, USAGE, Api, api, api_command, fail
from incident_sync.control.cli.manifest import to_manifest
from incident_sync.control.cli.output import emit, emit_data, format_option, key_values, table

DIRECTIONS = ("outbound", "inbound", "bidirectional")
STRATEGIES = ("last-write-wins", "ownership-priority", "manual-review")
SECRETS = ("api_key", "password", "oauth_client_secret", "webhook_secret")


@click.group()
def integration() -> None:
    """Create, change and watch integrations (one connection to one tool instance).

    \b
    Examples:
      im integration create prod-snow --type servicenow \\
          --base-url https://acme.service-now.com --username incident-sync \\
          --secret password=env:SNOW_PASSWORD --secret webhook_secret=env:SNOW_HOOK
      im integration configure prod-snow --direction outbound
      im integration configure prod-snow --conflict-strategy manual-review
      im integration test prod-snow
      im integration sync-status prod-snow --format json
    """


def _secret(spec: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or name not in SECRETS:
        fail(f"--secret takes NAME=VALUE with NAME one of {', '.join(SECRETS)}", USAGE)
    if value == "-":
        value = sys.stdin.readline().rstrip("\n")
    elif value.startswith("env:"):
        var = value[4:]
        if var not in os.environ:
            fail(f"--secret {name}: the environment variable {var} is not set", USAGE)
        value = os.environ[var]
    return name, value


def _options(kv: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in kv:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--option takes KEY=VALUE, not {item!r}", USAGE)
        out[key] = value
    return out


def side_options(func: Any) -> Any:
    """The options shared by `create` and `configure`."""
    options = [
        click.option("--base-url", help="the tool's base URL"),
        click.option("--username", help="API user (ServiceNow basic auth / OAuth password grant)"),
        click.option("--actor", help="the tool account incident-sync writes as (its changes "
                     "are recognised as echoes)"),
        click.option("--direction", type=click.Choice(DIRECTIONS),
                     help="outbound: push only, webhooks ignored; inbound: take in only; "
                     "bidirectional: both"),
        click.option("--conflict-strategy", type=click.Choice(STRATEGIES),
                     help="who wins when both sides change a field within the window"),
        click.option("--conflict-window", type=click.FloatRange(min=0),
                     help="seconds within which two edits of one field conflict (default 5)"),
        click.option("--rate-limit", type=click.IntRange(min=1),
                     help="requests per minute to the tool (all workers together)"),
        click.option("--max-concurrency", type=click.IntRange(min=1),
                     help="requests in flight to the tool (all workers together)"),
        click.option("--oauth-client-id", help="ServiceNow OAuth client id"),
        click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
                     help="tool-specific option (repeatable), e.g. --option urgency=2"),
        click.option("--secret", "secrets", multiple=True, metavar="NAME=VALUE",
                     help="a credential (repeatable): NAME is api_key, password, "
                     "oauth_client_secret or webhook_secret; VALUE is text, env:VAR or - "
                     "(read from stdin). Never shown back."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _body(**given: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    names = {
        "base_url": "base_url",
        "username": "username",
        "actor": "actor",
        "direction": "direction",
        "conflict_strategy": "conflict_strategy",
        "conflict_window": "conflict_window_s",
        "rate_limit": "rate_limit_per_minute",
        "max_concurrency": "max_concurrency",
        "oauth_client_id": "oauth_client_id",
    }
    for opt, field in names.items():
        if given.get(opt) is not None:
            body[field] = given[opt]
    if given.get("options"):
        body["options"] = _options(given["options"])
    for spec in given.get("secrets") or ():
        name, value = _secret(spec)
        body[name] = value
    return body


def show_integration(view: dict[str, Any]) -> None:
    secrets = ", ".join(f"{k}={v}" for k, v in view.get("secrets", {}).items())
    key_values(
        f"integration {view['tenant']}/{view['name']}",
        [
            ("type", view["type"]),
            ("base_url", view["base_url"]),
            ("direction", view["direction"]),
            ("paused", view["paused"]),
            ("conflict", f"{view['conflict_strategy']} within {view['conflict_window_s']}s"),
            ("rate limit", view.get("rate_limit_per_minute") or "none"),
            ("max concurrency", view.get("max_concurrency") or "worker default"),
            ("username", view.get("username")),
            ("actor", view.get("actor")),
            ("ownership", "type defaults" if view.get("ownership") is None else "configured"),
            ("field map", "inline" if view.get("field_map") else view.get("mapping_file")),
            ("options", view.get("options")),
            ("secrets", secrets),
            ("revision", f"{view['revision']} (by {view['updated_by']} at {view['updated_at']})"),
        ],
    )


def _path(a: Api, name: str, tail: str = "") -> str:
    return a.tenant_path(f"/integrations/{name}{tail}")


@integration.command("list")
@api_command
def list_(a: Api, fmt: str) -> None:
    """List the tenant's integrations."""
    data = a.get(a.tenant_path("/integrations"))

    def render(d: dict[str, Any]) -> None:
        table(
            f"integrations of {a.tenant}",
            ["NAME", "TYPE", "DIRECTION", "PAUSED", "CONFLICT", "BASE URL"],
            [
                (i["name"], i["type"], i["direction"], "yes" if i["paused"] else "no",
                 i["conflict_strategy"], i["base_url"])
                for i in d["items"]
            ],
        )  # fmt: skip

    emit(data, fmt, render)


@integration.command("get")
@click.argument("name")
@api_command
def get(a: Api, name: str, fmt: str) -> None:
    """Show one integration (secrets only as set/unset). `-o yaml` prints a manifest that
    `im apply -f` takes back unchanged."""
    view = a.get(_path(a, name))
    if fmt == "yaml":
        emit_data(to_manifest(view, "Integration"), "yaml")
    else:
        emit(view, fmt, show_integration)


@integration.command("create")
@click.argument("name")
@click.option("--type", "tool", type=click.Choice(registered_types()), required=True,
              help="the tool: a type a connector registers (the incident_sync.connectors "
              "entry points of this installation)")  # fmt: skip
@click.option("--paused", is_flag=True, help="create it paused")
@side_options
@api_command
def create(a: Api, /, name: str, tool: str, paused: bool, fmt: str, **given: Any) -> None:
    """Create integration NAME (lower-case letters, digits and -)."""
    body = {"name": name, "type": tool, **_body(**given)}
    if "base_url" not in body:
        fail("--base-url is required", USAGE)
    if paused:
        body["paused"] = True
    _, view = a.call("POST", a.tenant_path("/integrations"), json=body)
    emit(view, fmt, show_integration)


@integration.command("configure")
@click.argument("name")
@side_options
@click.option("--clear-secret", "clear", multiple=True, type=click.Choice(SECRETS),
              help="remove a stored secret (repeatable)")  # fmt: skip
@api_command
def configure(a: Api, /, name: str, clear: tuple[str, ...], fmt: str, **given: Any) -> None:
    """Change some settings of NAME; what is not given stays.

    \b
      im integration configure prod-snow --direction inbound
      im integration configure prod-snow --conflict-strategy ownership-priority
    """
    body = _body(**given)
    for field in clear:
        body[field] = None
    if not body:
        fail("nothing to change: give at least one option (see --help)", USAGE)
    _, view = a.call("PATCH", _path(a, name), json=body)
    emit(view, fmt, show_integration)


@integration.command("delete")
@click.argument("name")
@queues.yes_option
@api_command
def delete(a: Api, name: str, yes: bool, fmt: str) -> None:
    """Delete NAME (its links and history stay in Redis)."""
    queues.confirm(yes, f"delete integration {a.tenant}/{name}?")
    _, data = a.call("DELETE", _path(a, name))
    emit(data, fmt, lambda d: click.echo(f"deleted {d['deleted']}"))


def _pause(ctx: click.Context, name: str, fmt: str, action: str) -> None:
    a = api(ctx)
    _, view = a.call("POST", _path(a, name, f"/{action}"))
    emit(view, fmt, lambda v: click.echo(f"{v['tenant']}/{v['name']}: paused={v['paused']}"))


@integration.command("pause")
@click.argument("name")
@format_option
@click.pass_context
def pause(ctx: click.Context, name: str, fmt: str) -> None:
    """Pause NAME: its writes (and its changes to the platform) wait, in order, until it is
    resumed; none is lost."""
    _pause(ctx, name, fmt, "pause")


@integration.command("resume")
@click.argument("name")
@format_option
@click.pass_context
def resume(ctx: click.Context, name: str, fmt: str) -> None:
    """Resume a paused integration: what waited is delivered, oldest first."""
    _pause(ctx, name, fmt, "resume")


@integration.command("test")
@click.argument("name")
@api_command
def test(a: Api, name: str, fmt: str) -> None:
    """Live connection test: an authenticated read through the tool's connector.
    Exits 1 when the tool does not answer as it should."""
    _, result = a.call("POST", _path(a, name, "/test"))

    def render(r: dict[str, Any]) -> None:
        if r["ok"]:
            click.echo(f"{name}: ok ({r['latency_ms']} ms)")
        else:
            click.echo(f"{name}: FAILED ({r['latency_ms']} ms): {r['error']}")

    emit(result, fmt, render)
    if not result["ok"]:
        sys.exit(ERROR)


@integration.command("sync-status")
@click.argument("name")
@api_command
def sync_status(a: Api, name: str, fmt: str) -> None:
    """Health of NAME: the pipeline's counters (outbound/inbound successes and failures,
    conflicts detected and resolved, drift discrepancies found), last times, the circuit
    breaker (the worst over the workers; unknown when no worker reported lately), how long
    the last write took to reach the tool (propagation) and the workers' consumer lag."""
    emit(a.get(_path(a, name, "/status")), fmt, show_sync_status)


def show_sync_status(s: dict[str, Any]) -> None:
    """The status route's answer as the table `sync-status` prints."""
    c = s["counters"]
    b, lag, propagation = s["breaker"], s["consumer_lag"], s.get("last_propagation_s")
    key_values(
        f"sync status of {s['tenant']}/{s['name']}",
        [
            ("type / direction", f"{s['type']} / {s['direction']}"),
            ("paused", s["paused"]),
            ("outbound", f"{c['outbound_success']} ok, {c['outbound_failed']} failed"),
            ("inbound", f"{c['inbound_success']} ok, {c['inbound_failed']} failed"),
            (
                "conflicts",
                f"{c['conflicts_detected']} detected, {c['conflicts_resolved']} resolved",
            ),
            ("drift", f"{c['drift_discrepancies']} discrepancies found"),
            ("breaker", _breaker(b)),
            ("last outbound", s.get("last_outbound_at")),
            ("propagation", "no write yet" if propagation is None else f"{propagation} s"),
            ("consumer lag", _consumer_lag(lag)),
            ("last inbound", s.get("last_inbound_at")),
            ("last error", s.get("last_error") and f"{s['last_error_at']}: {s['last_error']}"),
        ],
    )


def _breaker(b: dict[str, Any]) -> str:
    """`open (half-opens at ...)`, per worker when they differ; `unknown (no worker reported)`."""
    if b["state"] == "unknown":
        return "unknown (no worker reported)"
    opens = sorted(w["half_opens_at"] for w in b["workers"] if w.get("half_opens_at"))
    text = str(b["state"]) + (f" (half-opens at {opens[0]})" if opens else "")
    if len({w["state"] for w in b["workers"]}) > 1:
        text += ": " + ", ".join(f"{w['worker']} {w['state']}" for w in b["workers"])
    return text


def _consumer_lag(lag: dict[str, Any]) -> str:
    if lag.get("messages") is None:
        return "unknown (no worker measured it)"
    topics = ", ".join(f"{t} {n}" for t, n in sorted(lag["topics"].items()))
    return f"{lag['messages']} message(s) behind ({topics})"


# -- field ownership ---------------------------------------------------------------------------
@integration.group("field-ownership")
def ownership() -> None:
    """Which side is authoritative for each field.

    \b
    platform: platform changes sync out, the tool's changes to it are ignored
    external: the tool's changes sync in, writes to the tool are skipped
    Fields: title, description, status, severity, priority, assignee (assigned_to),
    escalation_policy, comment (work_notes, comments), and the platform's custom fields
    a field map carries: custom.<Field name>.

    \b
      im integration field-ownership set prod-snow severity --owner platform --priority 10
      im integration field-ownership set prod-snow assigned_to --owner external --priority 5
      im integration field-ownership list prod-snow
    """


def _show_rules(view: dict[str, Any]) -> None:
    source = "tool type defaults" if view["uses_type_defaults"] else "configured"
    table(
        f"field ownership of {view['integration']} ({source})",
        ["FIELD", "OWNER", "PRIORITY"],
        [(r["field"], r["owner"], r["priority"]) for r in view["rules"]],
    )


@ownership.command("set")
@click.argument("name")
@click.argument("field")
@click.option("--owner", type=click.Choice(("platform", "external")), required=True)
@click.option("--priority", type=int, default=0, show_default=True,
              help="higher wins under the ownership-priority conflict strategy")  # fmt: skip
@api_command
def ownership_set(a: Api, name: str, field: str, owner: str, priority: int, fmt: str) -> None:
    """Make OWNER authoritative for FIELD of NAME."""
    _, view = a.call(
        "PUT",
        _path(a, name, f"/ownership/{field}"),
        json={"owner": owner, "priority": priority},
    )
    emit(view, fmt, _show_rules)


@ownership.command("unset")
@click.argument("name")
@click.argument("field")
@api_command
def ownership_unset(a: Api, name: str, field: str, fmt: str) -> None:
    """Remove FIELD's rule: it becomes shared (travels both ways)."""
    _, view = a.call("DELETE", _path(a, name, f"/ownership/{field}"))
    emit(view, fmt, _show_rules)


@ownership.command("list")
@click.argument("name")
@api_command
def ownership_list(a: Api, name: str, fmt: str) -> None:
    """The ownership rules of NAME (the tool type's defaults until one is set)."""
    emit(a.get(_path(a, name, "/ownership")), fmt, _show_rules)
