"""What the DLQ (`im integration dlq-*`) and the quarantine (`im quarantine`) commands share:
retry one entry or, with --all, every entry matching the filters (`--dry-run` lists them); and
the question a discard (or a delete) asks first."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from incident_sync.control.cli.client import USAGE, Api, fail
from incident_sync.control.cli.output import emit, retried

F = TypeVar("F", bound=Callable[..., Any])


def retry_options(func: F) -> F:
    """ENTRY (optional), `--all` and `--dry-run`; the command adds its own filters."""
    func = click.option("--dry-run", is_flag=True, help="with --all: list what would be retried")(
        func
    )
    func = click.option(
        "--all", "everything", is_flag=True, help="every entry matching the filters"
    )(func)
    return click.argument("entry", required=False)(func)


def retry(
    a: Api,
    entry: str | None,
    everything: bool,
    dry_run: bool,
    filters: Mapping[str, tuple[str, str | None]],
    *,
    path: str,
    where: str,
    fmt: str,
) -> None:
    """POST `{path}/{entry}/retry`, or with --all `{path}/retry` with the filters given
    (`filters`: body field -> (its option, value)), and show the answer."""
    if (entry is None) == (not everything):
        fail("give either ENTRY or --all", USAGE)
    given = {field: value for field, (_, value) in filters.items() if value}
    if entry is not None and (given or dry_run):
        options = ", ".join(option for option, _ in filters.values())
        fail(f"{options} and --dry-run go with --all", USAGE)
    if entry is not None:
        _, data = a.call("POST", a.tenant_path(f"{path}/{entry}/retry"))
    else:
        body = {"dry_run": dry_run, **given}
        _, data = a.call("POST", a.tenant_path(f"{path}/retry"), json=body)
    emit(data, fmt, retried(where))


def yes_option(func: F) -> F:
    return click.option("--yes", is_flag=True, help="do not ask")(func)


def confirm(yes: bool, question: str) -> None:
    """Ask `question` (abort on no), unless --yes or nobody is at a terminal to answer."""
    if not yes and sys.stdin.isatty():
        click.confirm(question, abort=True)
