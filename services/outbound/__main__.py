"""`python -m outbound worker`: runs the gate, arbiter and delivery agents, and the retry
relay. The event loop is `OUTBOUND_LOOP` (aio or uvloop; default uvloop when installed, the
`speed` extra).

The loop policy is set before anything else is imported: importing the app builds the faust
App and its services, and a loop made then would stay the default one (faust's own `--loop`
comes too late for that, and the worker ran on the plain selector loop)."""

import asyncio
import importlib.util
import os

_default = "uvloop" if importlib.util.find_spec("uvloop") is not None else "aio"
if os.environ.get("OUTBOUND_LOOP", _default) == "uvloop":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from outbound.agents import arbiter, delivery, gate, retry  # noqa: E402, F401 - registers them
from outbound.app import app  # noqa: E402

if __name__ == "__main__":
    app.main()
