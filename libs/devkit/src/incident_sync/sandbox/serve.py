"""Run a sandbox app as a process: one "ready on ..." line, clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

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


def run(app: web.Application, host: str, port: int) -> None:
    asyncio.run(serve(app, host, port))
