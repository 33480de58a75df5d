"""`python -m outbound worker`: runs the gate, arbiter and delivery agents, and the retry
relay. The event loop is `OUTBOUND_LOOP` (aio or uvloop; default uvloop when installed, the
`speed` extra) unless `--loop` is given."""

import importlib.util
import os
import sys

from outbound.agents import arbiter, delivery, gate, retry  # noqa: F401 - registers them
from outbound.app import app

if __name__ == "__main__":
    chosen = any(a in ("-L", "--loop") or a.startswith("--loop=") for a in sys.argv[1:])
    default = "uvloop" if importlib.util.find_spec("uvloop") is not None else "aio"
    if not chosen:
        sys.argv[1:1] = ["--loop", os.environ.get("OUTBOUND_LOOP", default)]
    app.main()
