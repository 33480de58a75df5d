"""GET /metrics of the control API: public (the policy's metrics.read), Prometheus text, and
every request counted by its policy action and status."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(f"{url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_metrics_are_public_and_count_requests(control: ControlService) -> None:
    key = ("incident_sync_control_requests_total", (("action", "whoami"), ("code", "401")))
    before = samples(control.url).get(key, 0.0)
    for _ in range(3):
        assert httpx.get(f"{control.url}/api/v1/whoami").status_code == 401
    after = samples(control.url)
    assert after[key] == before + 3
    assert after[("incident_sync_control_request_seconds_count", (("action", "whoami"),))] >= 3
