"""`python -m incident_sync.outbound worker`: runs the gate, arbiter and delivery agents, and
the retry relay. The event loop is `OUTBOUND_LOOP` (aio or uvloop; default uvloop when
installed, the `speed` extra).

The loop policy is set before anything else is imported: importing the app builds the faust
App and its services, and a loop made then would stay the default one (faust's own `--loop`
comes too late for that, and the worker ran on the plain selector loop)."""

import asyncio
import gc
import importlib.util
import os

_default = "uvloop" if importlib.util.find_spec("uvloop") is not None else "aio"
if os.environ.get("OUTBOUND_LOOP", _default) == "uvloop":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from incident_sync.outbound import gauges  # noqa: E402, F401 - registers the timers
from incident_sync.outbound.app import app  # noqa: E402
from incident_sync.outbound.stages.arbiter import agent as arbiter  # noqa: E402, F401
from incident_sync.outbound.stages.delivery import agent as delivery  # noqa: E402, F401
from incident_sync.outbound.stages.gate import agent as gate  # noqa: E402, F401
from incident_sync.outbound.stages.hold import agent as hold  # noqa: E402, F401
from incident_sync.outbound.stages.relay import agent as relay  # noqa: E402, F401

if __name__ == "__main__":
    # Each message makes many short-lived objects; the collector's default (a young-generation
    # pass every 700 allocations, each walking the long-lived objects of the app and its
    # libraries sooner or later) cost several percent of the worker's CPU. What exists now
    # lives as long as the process: out of the collector's way; young passes less often.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    app.main()
