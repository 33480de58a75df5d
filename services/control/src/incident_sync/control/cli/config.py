"""`im config get-contexts | use-context NAME | current-context | set-context NAME |
delete-context NAME`: the contexts of im.toml (`cli.contexts`). A token shows as set or
unset, never its value; it is given on standard input, never as an argument (shell history,
`ps`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from incident_sync.control.cli.client import CONFLICT, NOT_FOUND, USAGE, Options, fail
from incident_sync.control.cli.contexts import KEYS, SECRET_KEYS, ConfigError, ConfigFile
from incident_sync.control.cli.output import emit, format_option, table


def _load() -> ConfigFile:
    try:
        return ConfigFile.load()
    except ConfigError as exc:
        fail(str(exc), USAGE)


def complete_context(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of a context name: the file's, quietly none if it does not read."""
    try:
        names = ConfigFile.load().contexts
    except ConfigError:
        return []
    return [name for name in names if name.startswith(incomplete)]


def _chosen(ctx: click.Context, conf: ConfigFile) -> str | None:
    """The context in use: --context, else IM_CONTEXT (both in Options), else current_context."""
    options = ctx.find_object(Options)
    return (options.context if options else None) or conf.current


@click.group("config")
def config() -> None:
    """The contexts of im.toml (IM_CONFIG, default ~/.config/incident-sync/im.toml)."""


@config.command("get-contexts")
@format_option
@click.pass_context
def get_contexts(ctx: click.Context, fmt: str) -> None:
    """List the contexts (a token shows as set or unset, never its value).

    \b
    The context in use is marked `*`: --context, else IM_CONTEXT, else current_context.
    """
    conf = _load()
    in_use = _chosen(ctx, conf)
    rows = [
        {
            "name": name,
            "current": name == in_use,
            **{k: c.get(k) for k in KEYS if k not in SECRET_KEYS},
            **{k: "set" if c.get(k) else "unset" for k in sorted(SECRET_KEYS)},
        }
        for name, c in conf.contexts.items()
    ]

    def render(data: list[dict[str, Any]]) -> None:
        if not data:
            click.echo(f"no contexts in {conf.path}")
            return
        columns = ("", "name", "api_url", "tenant", "ingress_url", "token", "sync_token")
        table(
            None,
            columns,
            [("*" if r["current"] else "", *(r[c] for c in columns[1:])) for r in data],
        )

    emit(rows, fmt, render)


@config.command("use-context")
@click.argument("name", shell_complete=complete_context)
def use_context(name: str) -> None:
    """Make NAME the current context (writes current_context to im.toml, mode 0600).

    Exits 3 when the file has no context NAME.
    """
    conf = _load()
    if name not in conf.contexts:
        known = ", ".join(sorted(conf.contexts)) or "none"
        fail(f"no context {name!r} in {conf.path} (contexts: {known})", NOT_FOUND)
    conf.use(name)
    click.echo(f"current context: {name} ({conf.path})")


@config.command("current-context")
@click.pass_context
def current_context(ctx: click.Context) -> None:
    """Print the name of the context in use (--context, else IM_CONTEXT, else
    current_context); exits 3 when there is none (the file's flat keys are used)."""
    name = _chosen(ctx, _load())
    if name is None:
        fail("no current context", NOT_FOUND)
    click.echo(name)


# Each stored token: the address it belongs to, and the option that gives a new one.
_BOUND = {
    "token": ("api_url", "--token-stdin"),
    "sync_token": ("ingress_url", "--sync-token-stdin"),
}


@config.command("set-context")
@click.argument("name", shell_complete=complete_context)
@click.option("--api-url", help="the control API")
@click.option("--tenant")
@click.option("--ingress-url", help="the ingress, for `im sync`")
@click.option(
    "--token-stdin",
    "token_key",
    flag_value="token",
    help="read the control API token from standard input (one line)",
)
@click.option(
    "--sync-token-stdin",
    "token_key",
    flag_value="sync_token",
    help="read the ingress's SYNC_API_TOKEN from standard input (one line)",
)
@click.option(
    "--unset",
    "unset",
    multiple=True,
    type=click.Choice(KEYS),
    help="remove this key from the context (repeatable)",
)
@click.option("--use", is_flag=True, help="and make it the current context")
def set_context(
    name: str,
    api_url: str | None,
    tenant: str | None,
    ingress_url: str | None,
    token_key: str | None,
    unset: tuple[str, ...],
    use: bool,
) -> None:
    """Create or change the context NAME (the file is written mode 0600).

    \b
    Examples:
      im config set-context prod --api-url https://control.example.com --tenant acme
      pass show incident-sync/prod | im config set-context prod --token-stdin --use
    A stored token belongs to its address: changing api_url (ingress_url) of a context that
    keeps a token is refused (exit 5) unless a new token is given or --unset token.
    """
    conf = _load()
    values: dict[str, str | None] = {k: None for k in unset}
    for key, value in (("api_url", api_url), ("tenant", tenant), ("ingress_url", ingress_url)):
        if value is not None:
            values[key] = value.rstrip("/") if key.endswith("url") else value
    if token_key is not None:
        line = sys.stdin.readline().strip()
        if not line:
            fail(f"no {token_key} on standard input", USAGE)
        values[token_key] = line
    existing = conf.contexts.get(name)
    if existing is not None:
        for secret, (address, option) in _BOUND.items():
            old, new = existing.get(address), values.get(address)
            moved = address in values and (new or "").rstrip("/") != (old or "").rstrip("/")
            keeps = existing.get(secret) and secret not in values
            if moved and keeps:
                fail(
                    f"context {name!r} keeps a {secret} stored for its {address}: give a new "
                    f"one ({option}) "
                    f"or --unset {secret}",
                    CONFLICT,
                )
    try:
        conf.set_context(name, values)
        if use:
            conf.doc["current_context"] = name
        conf.write()
    except ConfigError as exc:
        fail(str(exc), USAGE)
    click.echo(f"context {name} saved ({conf.path})" + ("; now current" if use else ""))


@config.command("delete-context")
@click.argument("name", shell_complete=complete_context)
def delete_context(name: str) -> None:
    """Remove the context NAME (and current_context, if it was NAME). Exits 3 when there is
    no such context."""
    conf = _load()
    if name not in conf.contexts:
        known = ", ".join(sorted(conf.contexts)) or "none"
        fail(f"no context {name!r} in {conf.path} (contexts: {known})", NOT_FOUND)
    conf.delete_context(name)
    conf.write()
    click.echo(f"context {name} deleted ({conf.path})")
