"""The incident.io sandbox as a process (see --help)."""

from __future__ import annotations

import argparse
import logging

from incident_sync.sandbox.incidentio.app import build_app
from incident_sync.sandbox.incidentio.state import DEFAULT_SIGNING_SECRET, IncidentioConfig
from incident_sync.sandbox.serve import run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--api-key", default="sandbox-api-key")
    parser.add_argument("--signing-secret", default=DEFAULT_SIGNING_SECRET)
    parser.add_argument("--webhook-url", default="", help="empty = webhooks disabled")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = IncidentioConfig(
        api_key=args.api_key, signing_secret=args.signing_secret, webhook_url=args.webhook_url
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
