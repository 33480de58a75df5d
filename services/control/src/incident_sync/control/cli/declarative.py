"""`im apply -f FILE` and `im get KIND [NAME]`: config as files (GitOps)."""

from __future__ import annotations

from typing import Any

import click
import yaml

from incident_sync.control.cli.client import USAGE, Api, api_command, fail
from incident_sync.control.cli.integration import show_integration
from incident_sync.control.cli.manifest import ManifestError, to_manifest, to_request
from incident_sync.control.cli.output import emit, emit_data, table


@click.command("apply")
@click.option("-f", "--filename", "path", required=True, type=click.File("r"),
              help="a YAML file (several documents allowed; - for stdin)")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="say what would change, change nothing")
@api_command
def apply(a: Api, path: Any, dry_run: bool, fmt: str) -> None:
    """Create or update integrations and platform connections to match FILE.

    Each document is an Integration or a Platform as `im get integration NAME -o yaml`
    prints it. Fields left out take their defaults; `paused` left out keeps the current
    state. Secrets: `set` keeps the stored value, `unset` clears it, `${VAR}` takes it from
    this command's environment.

    \b
      im get integration prod-snow -o yaml > prod-snow.yaml
      im apply -f prod-snow.yaml          # unchanged
    """
    try:
        docs = [d for d in yaml.safe_load_all(path) if d is not None]
        requests = [to_request(d, a.tenant) for d in docs]
    except (yaml.YAMLError, ManifestError) as exc:
        fail(f"{getattr(path, 'name', 'file')}: {exc}", USAGE)
    results = []
    for kind, tenant, name, body in requests:
        if kind == "Integration":
            url = f"/api/v1/tenants/{tenant}/integrations/{name}"
        else:
            url = f"/api/v1/tenants/{tenant}/platform"
        status, before = a.call("GET", url, allow=(404,))
        exists = status == 200 and (kind == "Integration" or before.get("name") == name)
        if dry_run:
            outcome = "would configure" if exists else "would create"
            results.append({"kind": kind, "tenant": tenant, "name": name, "result": outcome})
            continue
        _, after = a.call("PUT", url, json=body)
        if not exists:
            outcome = "created"
        elif after["revision"] == before["revision"]:
            outcome = "unchanged"
        else:
            outcome = "configured"
        results.append(
            {"kind": kind, "tenant": tenant, "name": name, "result": outcome,
             "revision": after["revision"]}
        )  # fmt: skip

    def render(d: dict[str, Any]) -> None:
        for r in d["items"]:
            click.echo(f"{r['kind'].lower()} {r['tenant']}/{r['name']} {r['result']}")

    emit({"items": results}, fmt, render)


@click.group("get")
def get() -> None:
    """Print resources; `-o yaml` gives manifests for `im apply`."""


@get.command("integration")
@click.argument("name", required=False)
@api_command
def get_integration(a: Api, name: str | None, fmt: str) -> None:
    """One integration, or all of the tenant's (as a list of manifests with -o yaml)."""
    if name is None:
        views = a.get(a.tenant_path("/integrations"))["items"]
        if fmt == "yaml":
            click.echo(
                yaml.safe_dump_all([to_manifest(v, "Integration") for v in views], sort_keys=False)
            )
            return
        emit(
            {"items": views},
            fmt,
            lambda d: table(
                None,
                ["NAME", "TYPE", "DIRECTION", "PAUSED"],
                [(v["name"], v["type"], v["direction"], v["paused"]) for v in d["items"]],
            ),
        )
        return
    view = a.get(a.tenant_path(f"/integrations/{name}"))
    if fmt == "yaml":
        emit_data(to_manifest(view, "Integration"), "yaml")
    else:
        emit(view, fmt, show_integration)


@get.command("platform")
@api_command
def get_platform(a: Api, fmt: str) -> None:
    """The tenant's platform connection."""
    view = a.get(a.tenant_path("/platform"))
    if fmt == "yaml":
        emit_data(to_manifest(view, "Platform"), "yaml")
    else:
        emit(view, fmt, show_integration)
