"""An integration's breaker and consumer lag in its status, against the real control service
and redis-server: with no worker's report the status route and the console's pages say
"unknown" (never "closed"); with reports written as the workers' gauges write them, the
worst live state, each worker's, and the lag. The OpenAPI document describes them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from incident_sync.syncmodel.breakers import BreakerReport
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.health import ConsumerLag, Health
from tests.integration.console.signin import sign_in
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = "hc"
API = f"/api/v1/tenants/{TENANT}"
C = f"/console/t/{TENANT}"


async def _reports(redis_url: str, *reports: BreakerReport, lag: ConsumerLag | None) -> None:
    redis = connect(redis_url)
    await redis.delete(keys.breakers(TENANT, "snow-h"), keys.CONSUMER_LAG)
    health = Health(redis)
    for r in reports:
        await health.report_breaker(TENANT, "snow-h", r)
    if lag is not None:
        await health.report_consumer_lag(lag, ttl_s=30)
    await redis.aclose()


def pages(control: ControlService) -> tuple[str, str]:
    with httpx.Client(base_url=control.url, timeout=10.0) as b:
        sign_in(b, control.admin)
        many, one = b.get(f"{C}/integrations"), b.get(f"{C}/integrations/snow-h")
        assert many.status_code == one.status_code == 200
        return many.text, one.text


def status(control: ControlService) -> dict[str, Any]:
    with control.client(control.admin) as admin:
        one = admin.get(f"{API}/integrations/snow-h/status").json()
        [listed] = [i for i in admin.get(f"{API}/status").json()["items"] if i["name"] == "snow-h"]
        assert listed == one
        found: dict[str, Any] = one
        return found


def test_no_report_is_unknown_and_reports_show_the_worst_live_worker(
    control: ControlService,
) -> None:
    with control.client(control.admin) as admin:
        admin.put(
            f"{API}/integrations/snow-h",
            json={"type": "servicenow", "base_url": "http://127.0.0.1:9"},
        ).raise_for_status()
    asyncio.run(_reports(control.redis_url, lag=None))
    s = status(control)
    assert s["breaker"] == {"state": "unknown", "workers": []}
    assert s["consumer_lag"] == {"messages": None, "topics": {}, "at": None}
    assert s["last_propagation_s"] is None
    many, one = pages(control)
    for html in (many, one):
        assert 'data-breaker="unknown"' in html and "no worker reported" in html
        assert "no write yet" in html
    assert 'data-consumer-lag="unknown"' in many and 'data-consumer-lag="unknown"' in one

    now = time.time()
    asyncio.run(
        _reports(
            control.redis_url,
            BreakerReport("w-1", "closed", at=now, expires_at=now + 30),
            BreakerReport("w-2", "open", at=now, expires_at=now + 30, half_opens_at=now + 20),
            BreakerReport("w-gone", "open", at=now - 60, expires_at=now - 45),
            lag=ConsumerLag(
                group="outbound", topics={"sync.outbound": 4, "sync.linked": 1}, at=now
            ),
        )
    )
    s = status(control)
    assert s["breaker"]["state"] == "open"
    assert [(w["worker"], w["state"]) for w in s["breaker"]["workers"]] == [
        ("w-1", "closed"),
        ("w-2", "open"),
    ]  # the expired report does not count
    assert s["breaker"]["workers"][1]["half_opens_at"] is not None
    assert s["consumer_lag"]["messages"] == 5
    assert s["consumer_lag"]["topics"] == {"sync.outbound": 4, "sync.linked": 1}
    many, one = pages(control)
    for html in (many, one):
        assert 'data-breaker="open"' in html and "w-2: open" in html and "probes the tool" in html
    assert 'data-consumer-lag="5"' in many and 'data-consumer-lag="5"' in one


def test_the_openapi_document_describes_the_breaker_and_the_lag(control: ControlService) -> None:
    document = httpx.get(f"{control.url}/api/v1/openapi.json", timeout=10.0).json()
    schemas = document["components"]["schemas"]
    status = schemas["SyncStatus"]["properties"]
    assert {"breaker", "consumer_lag", "last_propagation_s"} <= set(status)
    assert schemas["Breaker"]["properties"]["state"]["enum"] == [
        "closed",
        "half-open",
        "open",
        "unknown",
    ]
    assert {"worker", "state", "at", "half_opens_at"} == set(schemas["WorkerBreaker"]["properties"])
    assert {"messages", "topics", "at"} == set(schemas["ConsumerLag"]["properties"])
