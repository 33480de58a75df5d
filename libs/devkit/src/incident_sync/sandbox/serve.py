"""Run a sandbox app as a process: the command line every sandbox takes (`command_line`,
`parse`), one "ready on ..." line, clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web


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
