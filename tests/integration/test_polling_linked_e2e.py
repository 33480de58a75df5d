"""The polling fallback sees every linked record, not only those carrying our correlation.

A record incident-sync made carries the platform incident's id (ServiceNow's correlation
column, PagerDuty's `incident_key`), and the tools' change feeds list those. A record that
existed before and was tied to an incident by `im integration link` carries none (PagerDuty's
`incident_key` cannot even be set after the incident is made): its lost webhooks must still
be brought in by the poll, from the link incident-sync keeps.

The real parts: broker, redis-server, the incident.io, ServiceNow and PagerDuty sandboxes over
HTTP, the pipeline, the reconciler (polling every few seconds) and the control service as
child processes, the real `im`. Both integrations have a trigger no incident matches, so the
pipeline makes no record of its own: every pair here is linked by `im integration link`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

POLL_S = 3.0
NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack(
        tools=("pagerduty",),
        overrides={
            "prod-snow": {"trigger": NEVER},
            # PagerDuty's default ownership gives the platform the title: none here, so the
            # responder's rename is taken in.
            "prod-pd": {"trigger": NEVER, "ownership": {}},
        },
        extra_env={"RECONCILE_POLL_INTERVAL_S": str(POLL_S), "RECONCILE_POLL_OVERLAP_S": "2"},
    )


def _linked(stack: Stack, integration: str, incident: str, record: str) -> None:
    done = im(stack, "integration", "link", integration, "--incident", incident, "--record", record)
    assert done["result"] == "linked"


def test_a_linked_servicenow_ticket_without_our_correlation_is_polled(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid = tools.declare("Payment errors", "Payment errors: summary")["id"]
    ticket = tools.create_snow(short_description="Payment errors (ticket)")
    sys_id = ticket["sys_id"]
    _linked(stack, "prod-snow", iid, ticket["number"])
    wait_for(
        lambda: tools.incident(iid)["name"] == tools.snow_record(sys_id)["short_description"],
        30,
        "the sync of the pair",
    )
    tools.quiesce()
    assert not tools.snow_record(sys_id).get("u_incident_io_id")  # nothing names the incident

    tools.drop_webhooks("servicenow", 1.0)
    try:
        tools.edit_snow(sys_id, short_description="Payment errors in checkout")
        wait_for(
            lambda: tools.incident(iid)["name"] == "Payment errors in checkout",
            POLL_S + 12.0,
            "the lost rename, brought in by the poll",
        )
        assert tools.stats("servicenow")["webhooks_dropped"] > 0
    finally:
        tools.drop_webhooks("servicenow", 0.0)


def test_a_linked_pagerduty_incident_without_our_incident_key_is_polled(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid = tools.declare("Queue stalled", "Queue stalled: summary")["id"]
    page = tools.create_pd(title="Queue stalled (page)")
    pd_id = str(page["id"])
    assert "incident-sync" not in str(page.get("incident_key") or "")
    _linked(stack, "prod-pd", iid, pd_id)
    tools.quiesce()

    # PagerDuty sends no webhook for a new title (no v3 event type names it): only the poll
    # can bring the rename in.
    sent = tools.stats("pagerduty")["webhooks_sent"]
    tools.edit_pd(pd_id, title="Queue stalled in eu-west")
    wait_for(
        lambda: tools.incident(iid)["name"] == "Queue stalled in eu-west",
        POLL_S + 12.0,
        "the rename, brought in by the poll",
    )
    assert tools.stats("pagerduty")["webhooks_sent"] == sent
