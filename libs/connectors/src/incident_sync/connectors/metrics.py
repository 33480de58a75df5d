"""The connectors' own metrics. They live here, not in `runtime`, because connectors import
only the domain (tests/unit/test_layers.py); every process registers them once, on import."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

# `code` is the HTTP status, or `timeout` / `error` when no answer came: a bounded set.
TIMEOUT: Final = "timeout"
NO_ANSWER: Final = "error"

TOOL_REQUEST_SECONDS: Final = Histogram(
    "incident_sync_tool_request_seconds",
    "One HTTP request to a tool's API, from sending to the answer's status (or the timeout "
    "or failed connection), by the integration's configured name, HTTP method and status.",
    ["integration", "method", "code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

FIELD_MAP_REFUSALS: Final = Counter(
    "incident_sync_field_map_refusals_total",
    "A tool's value of a mapped field that its value map refuses to take in (`unmapped: "
    "refuse`): the platform keeps its value, and the log says which. By the integration's "
    "configured name and the platform field.",
    ["integration", "field"],
)
