"""The PagerDuty sandbox as a process (see --help)."""

from __future__ import annotations

import argparse
import logging

from incident_sync.sandbox.pagerduty.app import build_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.sandbox.serve import run


def main(argv: list[str] | None = None) -> None:
    defaults = PagerDutyConfig()
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--api-token", default=defaults.api_token)
    parser.add_argument("--api-user", default=defaults.api_user, help="the From e-mail")
    parser.add_argument("--webhook-url", default="", help="empty = webhooks disabled")
    parser.add_argument("--webhook-secret", default=defaults.webhook_secret)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = PagerDutyConfig(
        api_token=args.api_token,
        api_user=args.api_user,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
