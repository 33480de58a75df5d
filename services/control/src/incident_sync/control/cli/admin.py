"""`im audit`, `im keys ...`, `im token ...`, `im whoami`."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import USAGE, Api, api_command, fail
from incident_sync.control.cli.output import emit, key_values, table
from incident_sync.controlstore.crypto import generate_key

ROLES = ("platform.administrator", "integration.manager", "incident_commander", "viewer")


@click.command("audit")
@click.option("--system", is_flag=True, help="token and key actions instead of the tenant's")
@click.option("--action", help="only this action, e.g. integration.update")
@click.option("--name", help="only this resource, e.g. prod-snow")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@api_command
def audit(a: Api, system: bool, action: str | None, name: str | None, limit: int, fmt: str) -> None:
    """Who changed what, when: every mutating action, newest first (secrets never shown)."""
    path = "/api/v1/audit" if system else a.tenant_path("/audit")
    params: dict[str, Any] = {"limit": limit}
    if action:
        params["action"] = action
    if name:
        params["name"] = name
    data = a.get(path, params=params)

    def render(d: dict[str, Any]) -> None:
        rows = []
        for e in d["items"]:
            changed = ""
            if e.get("before") and e.get("after") and isinstance(e["before"], dict):
                keys = sorted(
                    k for k in set(e["before"]) | set(e["after"])
                    if e["before"].get(k) != e["after"].get(k) and k != "revision"
                )  # fmt: skip
                changed = ", ".join(keys)
            if e.get("secrets_changed"):
                changed = ", ".join(
                    filter(None, [changed, "secrets: " + ", ".join(e["secrets_changed"])])
                )
            who = f"{e['actor']['name']} ({e['actor'].get('role') or '-'})"
            rows.append((e["at"], who, e["action"], e["resource"].get("name"), changed))
        table(None, ["WHEN", "WHO", "ACTION", "RESOURCE", "CHANGED"], rows)

    emit(data, fmt, render)


@click.group("keys")
def keys() -> None:
    """Encryption keys of the secrets at rest (CONTROL_ENCRYPTION_KEYS).

    \b
    Rotating without downtime:
      1. im keys generate                     -> NEW
      2. set CONTROL_ENCRYPTION_KEYS=NEW,OLD on the control service, the ingress and the
         worker (rolling restart): NEW seals, OLD still opens
      3. im keys rotate                       re-seals every secret under NEW
      4. im keys status                       pending: 0
      5. drop OLD from CONTROL_ENCRYPTION_KEYS (rolling restart)
    """


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random key (base64url, 32 bytes); nothing is sent anywhere."""
    click.echo(generate_key())


def _show_keys(d: dict[str, Any]) -> None:
    pairs = [
        ("primary", d["primary"]),
        ("configured", ", ".join(d["configured"])),
        ("pending", d["pending"]),
        *((f"sealed with {k}", n) for k, n in sorted(d["usage"].items())),
    ]
    if "resealed_records" in d:
        pairs.insert(0, ("re-sealed records", d["resealed_records"]))
    key_values(None, pairs)


@keys.command("status")
@api_command
def keys_status(a: Api, fmt: str) -> None:
    """Which key seals new secrets and how many secrets each key still holds."""
    emit(a.get("/api/v1/keys"), fmt, _show_keys)


@keys.command("rotate")
@api_command
def keys_rotate(a: Api, fmt: str) -> None:
    """Re-seal every stored secret under the primary key (the first of the service's
    CONTROL_ENCRYPTION_KEYS). Safe to run again; readers keep working throughout."""
    _, data = a.call("POST", "/api/v1/keys/rotate")
    emit(data, fmt, _show_keys)


@click.group("token")
def token() -> None:
    """API tokens: a role and a scope each.

    \b
      im token create --name ci-bot --role integration.manager --scope tenant:acme
      im token create --name alice --role viewer --scope tenant:*
      im token create --name bob --role integration.manager --scope integration:acme/prod-snow
    """


def _scope(items: tuple[str, ...]) -> dict[str, list[str]]:
    scope: dict[str, list[str]] = {"tenants": [], "integrations": []}
    for item in items:
        kind, sep, value = item.partition(":")
        if not sep or kind not in ("tenant", "integration") or not value:
            fail(
                f"--scope takes tenant:NAME, tenant:* or integration:TENANT/NAME, not {item!r}",
                USAGE,
            )
        scope["tenants" if kind == "tenant" else "integrations"].append(value)
    return scope


def _show_tokens(d: dict[str, Any]) -> None:
    table(
        None,
        ["ID", "NAME", "ROLE", "TENANTS", "INTEGRATIONS", "CREATED"],
        [
            (t["id"], t["name"], t["role"], ",".join(t["scope"]["tenants"]),
             ",".join(t["scope"]["integrations"]), t["created_at"])
            for t in d["items"]
        ],
    )  # fmt: skip


@token.command("create")
@click.option("--name", required=True, help="who holds it (shown in the audit trail)")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--scope", "scopes", multiple=True, metavar="tenant:NAME|integration:T/N",
              help="what it may touch (repeatable); platform.administrator needs none")  # fmt: skip
@api_command
def token_create(a: Api, name: str, role: str, scopes: tuple[str, ...], fmt: str) -> None:
    """Create a token; it is printed once (only its hash is stored)."""
    body = {"name": name, "role": role, "scope": _scope(scopes)}
    _, data = a.call("POST", "/api/v1/tokens", json=body)
    emit(
        data,
        fmt,
        lambda d: click.echo(f"token {d['id']} for {d['name']} ({d['role']}):\n{d['token']}"),
    )


@token.command("list")
@api_command
def token_list(a: Api, fmt: str) -> None:
    """List tokens (never their values)."""
    emit(a.get("/api/v1/tokens"), fmt, _show_tokens)


@token.command("revoke")
@click.argument("token_id")
@api_command
def token_revoke(a: Api, token_id: str, fmt: str) -> None:
    """Revoke a token by its id: it stops working at once."""
    _, data = a.call("DELETE", f"/api/v1/tokens/{token_id}")
    emit(data, fmt, lambda d: click.echo(f"revoked {d['deleted']}"))


@click.command("whoami")
@api_command
def whoami(a: Api, fmt: str) -> None:
    """The role and scope of the token in use."""
    data = a.get("/api/v1/whoami")
    emit(
        data,
        fmt,
        lambda d: key_values(None, [("id", d["id"]), ("name", d["name"]), ("role", d["role"]),
                                    ("scope", d["scope"])]),
    )  # fmt: skip
