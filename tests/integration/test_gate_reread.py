"""A refresh whose read the tool cannot answer now (503s) is not lost nor quarantined: the
gate puts it on the retry ladder, the relay brings it back to the gate, and the record's
values arrive once the tool answers again (`outbound.stages.gate.reread`), on the real stack."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(extra_env={"RETRY_DELAYS_S": "0.5,0.5,0.5,0.5"})


def read_later(stack: Stack) -> float:
    text = httpx.get(f"{stack.url('outbound')}/metrics", timeout=5).text
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "incident_sync_gate_events_total" and s.labels.get("decision") == "read_later"
    )


def test_a_refresh_the_tool_cannot_answer_now_comes_back_and_arrives(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    incident = tools.declare("Refresh while the tool is down", "summary")
    (ticket,) = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    sys_id = ticket["sys_id"]
    tools.quiesce()
    tools.drop_webhooks("servicenow", 1.0)  # an edit the service never hears about
    try:
        tools.edit_snow(sys_id, short_description="Renamed in ServiceNow")
        tools.quiesce()
    finally:
        tools.drop_webhooks("servicenow", 0.0)
    # The next three reads of the ticket fail; the manual sync's refresh meets them.
    tools.api_faults("servicenow", fail_status=503, fail_count=3, path_contains=sys_id)
    try:
        queued = im(stack, "integration", "sync", "prod-snow")
        assert sys_id in [r["record_id"] for r in queued["records"]]
        wait_for(
            lambda: tools.incident(incident["id"])["name"] == "Renamed in ServiceNow",
            60,
            "the ticket's title on the platform",
        )
    finally:
        tools.api_faults("servicenow")
    failed_reads = [
        r
        for r in tools.api_requests("servicenow")
        if r["method"] == "GET" and sys_id in r["path"] and r["status"] == 503
    ]
    assert len(failed_reads) == 3  # the tool really was down for those reads
    assert read_later(stack) >= 3
    assert im(stack, "quarantine", "list")["items"] == []
