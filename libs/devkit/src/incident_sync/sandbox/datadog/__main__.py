"""The Datadog sandbox as a process (see --help)."""

from __future__ import annotations

import argparse
import logging

from incident_sync.sandbox.datadog.app import DatadogConfig, build_app
from incident_sync.sandbox.serve import run


def main(argv: list[str] | None = None) -> None:
    defaults = DatadogConfig()
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--app-key", default=defaults.app_key)
    parser.add_argument("--webhook-url", default="", help="empty = webhooks disabled")
    parser.add_argument("--webhook-secret", default=defaults.webhook_secret)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = DatadogConfig(
        api_key=args.api_key,
        app_key=args.app_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
