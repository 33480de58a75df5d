"""`im config get-contexts | use-context NAME | current-context`: the contexts of im.toml
(`cli.contexts`). A token shows as set or unset, never its value."""

from __future__ import annotations

from typing import Any

import click

from incident_sync.control.cli.client import NOT_FOUND, USAGE, Options, fail
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
