"""Run a sandbox app as a process: the command line every sandbox takes (`command_line`,
`parse`), one "ready on ..." line, clean exit on SIGTERM/SIGINT. `sandbox_main` makes a
sandbox's `python -m` entry point from a table of its options (`Option`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web

C = TypeVar("C")


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port  # port 0 = any free port
    print(f"ready on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def command_line(
    doc: str | None, package: str | None, *, webhooks: bool = True
) -> argparse.ArgumentParser:
    """`python -m <package>`'s parser with the options every sandbox takes: --host, --port
    (0: any free port) and, for a tool that sends webhooks, --webhook-url."""
    parser = argparse.ArgumentParser(prog=f"python -m {package}", description=doc)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    if webhooks:
        parser.add_argument("--webhook-url", default="", help="empty = webhooks disabled")
    return parser


def credential_pair(left: str, right: str) -> Callable[[str], tuple[str, str]]:
    """An argument type for `left:right` (e.g. `email:api_token`); `left` must not be empty."""

    def parse(text: str) -> tuple[str, str]:
        first, sep, second = text.partition(":")
        if not sep or not first:
            raise argparse.ArgumentTypeError(f"expected {left}:{right}, got {text!r}")
        return first, second

    return parse


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments, with warnings and errors logged to stderr."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return args


def run(app: web.Application, host: str, port: int) -> None:
    asyncio.run(serve(app, host, port))


class Main(Protocol):
    def __call__(self, argv: list[str] | None = None) -> None: ...


@dataclass(frozen=True)
class Option:
    """One option of a sandbox's command line, setting one field of its config.

    `flag` (`--api-key`) sets `field` (by default the flag's name: `api_key`), whose default
    is the config's own. `type` reads a value; `switch`: the flag takes no value and sets
    True; `repeat`: the flag may be given again and again, each value read by `repeat`, and
    `collect` makes the field of them (none given: the config's default)."""

    flag: str
    field: str = ""
    help: str | None = None
    type: Callable[[str], Any] | None = None
    switch: bool = False
    repeat: Callable[[str], Any] | None = None
    collect: Callable[[list[Any]], Any] = tuple

    @property
    def name(self) -> str:
        return self.field or self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser, default: Any) -> None:
        """This option on `parser`, its value under `name` (shown as the flag's name)."""
        metavar = self.flag.lstrip("-").replace("-", "_").upper()
        if self.switch:
            parser.add_argument(self.flag, dest=self.name, action="store_true", help=self.help)
        elif self.repeat is not None:
            parser.add_argument(
                self.flag,
                dest=self.name,
                action="append",
                type=self.repeat,
                default=[],
                metavar=metavar,
                help=self.help,
            )
        else:
            parser.add_argument(
                self.flag,
                dest=self.name,
                type=self.type or str,
                default=default,
                metavar=metavar,
                help=self.help,
            )

    def value(self, args: argparse.Namespace, default: Any) -> Any:
        """The config's field from the parsed `args`."""
        given = getattr(args, self.name)
        if self.repeat is not None:
            return self.collect(given) if given else default
        return given


def sandbox_main(
    doc: str | None,
    package: str | None,
    config: type[C],
    build_app: Callable[[C], web.Application],
    options: Sequence[Option],
    *,
    webhooks: bool = True,
) -> Main:
    """The `main(argv)` of `python -m <package>`: the common options (`command_line`; with
    `webhooks`, --webhook-url sets the config's `webhook_url`) and `options`, each setting
    its field of `config` (every other field keeps its default); then `build_app(config)`
    runs until SIGTERM/SIGINT."""

    def main(argv: list[str] | None = None) -> None:
        parser = command_line(doc, package, webhooks=webhooks)
        defaults = config()
        for option in options:
            option.add_to(parser, getattr(defaults, option.name))
        args = parse(parser, argv)
        fields = {o.name: o.value(args, getattr(defaults, o.name)) for o in options}
        if webhooks:
            fields["webhook_url"] = args.webhook_url
        run(build_app(config(**fields)), args.host, args.port)

    return main
