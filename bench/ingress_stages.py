"""The ingress cut short after one stage, to show where a webhook's CPU goes:

    BENCH_STAGE=framing|verify|parse python -m bench.ingress_stages

It is `python -m incident_sync.ingress` (same app, routes, middleware, span, counters,
uvloop) whose webhook path answers 202 right after the stage:
- `framing`: read the body and answer (what the app adds to a bare handler);
- `verify`: + the Svix signature check on the raw bytes;
- `parse`: + parsing into ChangeEvents and encoding the Kafka records, but no publish.

Bench code only: it replaces the handler's inner function in this process, nothing else.
"""

from __future__ import annotations

import os
from typing import Final

from aiohttp import web

from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.ingress import handlers
from incident_sync.ingress.errors import json_response
from incident_sync.ingress.publisher import Publisher
from incident_sync.ingress.sides import Side

STAGES: Final = ("framing", "verify", "parse")


def cut_after(stage: str) -> None:
    if stage not in STAGES:
        raise SystemExit(f"BENCH_STAGE must be one of {', '.join(STAGES)}, not {stage!r}")

    async def webhook(
        request: web.Request, side: Side, publisher: Publisher, max_body: int
    ) -> web.Response:
        body = await request.read()
        assert isinstance(side.connector, WebhookSource)
        if stage != "framing":
            side.connector.verify(request.headers, body)
        if stage == "parse":
            events = side.connector.parse(request.headers, body)
            handlers._records(events, side)
        return json_response({"status": "accepted", "events": 1}, status=202)

    handlers._webhook = webhook


def main() -> None:
    cut_after(os.environ.get("BENCH_STAGE", ""))
    from incident_sync.ingress.__main__ import main as ingress_main

    ingress_main()


if __name__ == "__main__":
    main()
