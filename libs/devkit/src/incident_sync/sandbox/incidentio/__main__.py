"""The incident.io sandbox as a process (see --help)."""

from __future__ import annotations

from incident_sync.sandbox.incidentio.app import build_app
from incident_sync.sandbox.incidentio.state import DEFAULT_SIGNING_SECRET, IncidentioConfig
from incident_sync.sandbox.serve import command_line, parse, run


def main(argv: list[str] | None = None) -> None:
    parser = command_line(__doc__, __package__)
    parser.add_argument("--api-key", default="sandbox-api-key")
    parser.add_argument("--signing-secret", default=DEFAULT_SIGNING_SECRET)
    args = parse(parser, argv)
    config = IncidentioConfig(
        api_key=args.api_key, signing_secret=args.signing_secret, webhook_url=args.webhook_url
    )
    run(build_app(config), args.host, args.port)


if __name__ == "__main__":
    main()
