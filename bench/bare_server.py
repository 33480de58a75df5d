"""The baseline server for the ingress benchmark: a bare aiohttp handler answering 202 to a
POST /webhook, served as `python -m incident_sync.ingress` serves. It runs in a child process:

    python -m bench.bare_server PORT

(`python -m bench.ingress_publish --serve-bare PORT` does the same.)
"""

from __future__ import annotations

import asyncio
import sys


def serve_bare(port: int) -> None:
    """Served exactly as `python -m incident_sync.ingress` serves: AppRunner, no access log,
    uvloop."""
    import signal

    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted", "events": 1}, status=202)

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/webhook", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
        loop_runner.run(serve())


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m bench.bare_server PORT")
    serve_bare(int(sys.argv[1]))
