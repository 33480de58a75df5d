"""Output: tables for people (rich), JSON or YAML for scripts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import orjson
import yaml
from rich.console import Console
from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "yaml")


def format_option(func: F) -> F:
    """`--format/-o table|json|yaml` (table is for people; json and yaml are stable)."""
    return click.option(
        "--format",
        "-o",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table for people, json or yaml for scripts",
    )(func)


def short(text: str, width: int) -> str:
    """`text` on one line of at most `width` characters (cut with an ellipsis)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def emit_data(data: Any, fmt: str) -> None:
    if fmt == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    else:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left", show_lines=False)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    Console(soft_wrap=True).print(t)


def key_values(title: str | None, pairs: Sequence[tuple[str, Any]]) -> None:
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for k, v in pairs:
        if isinstance(v, dict | list):
            v = orjson.dumps(v).decode()
        t.add_row(k, "" if v is None else str(v))
    Console(soft_wrap=True).print(t)


def emit(data: Any, fmt: str, render: Callable[[Any], None]) -> None:
    """JSON/YAML as the API answered, or the table `render` draws."""
    if fmt == "table":
        render(data)
    else:
        emit_data(data, fmt)


def retried(where: str) -> Callable[[Any], None]:
    """How a retry's answer (`{retried, remaining, dry_run}`) reads, for the queue `where`."""

    def render(d: Any) -> None:
        verb = "would retry" if d.get("dry_run") else "retried"
        click.echo(f"{verb} {len(d['retried'])}: {' '.join(d['retried']) or '-'}")
        click.echo(f"left in the {where}: {d['remaining']}")

    return render
