"""Every connector writes within its tool's documented maximums, cutting visibly, against a
sandbox that enforces them as the vendor does (Jira and PagerDuty refuse, ServiceNow cuts a
fixed-size column silently, Slack refuses an oversized block and truncates a long `text`);
and each reports what the tool stored for our write (ServiceNow's dictionary is learnt)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.jira.connector import JiraConnector
from incident_sync.connectors.pagerduty.connector import PagerDutyConnector
from incident_sync.connectors.servicenow.connector import STOCK_LENGTHS, ServiceNowConnector
from incident_sync.connectors.slack.connector import SlackConnector
from incident_sync.sandbox.jira.app import build_app as jira_app
from incident_sync.sandbox.jira.state import JiraConfig
from incident_sync.sandbox.pagerduty.app import build_app as pd_app
from incident_sync.sandbox.pagerduty.state import PagerDutyConfig
from incident_sync.sandbox.servicenow.app import build_app as sn_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.sandbox.slack.app import build_app as slack_app
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.limits import MARKER
from tests.unit.connectors.jira import helpers as jira_helpers
from tests.unit.connectors.pagerduty import helpers as pd_helpers
from tests.unit.connectors.sandbox_harness import Harness, running

LONG = "Checkout latency above the SLO in eu-west-1 " * 100  # 4,400 characters
HUGE = "A long note from the incident channel. " * 1_500  # 58,500 characters


def assert_cut(value: object, limit: int) -> None:
    assert isinstance(value, str) and len(value) <= limit and value.endswith(MARKER), value
    assert LONG.startswith(value[: -len(MARKER)]) or HUGE.startswith(value[: -len(MARKER)])


async def request(base: str, method: str, path: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.request(method, path, **kw)  # type: ignore[arg-type]


# -- Jira ------------------------------------------------------------------------------------
@pytest.fixture
async def jira() -> AsyncIterator[Harness]:
    config = JiraConfig(
        api_users=((jira_helpers.API_EMAIL, jira_helpers.API_TOKEN),), webhook_url=""
    )
    async with running(lambda _: jira_app(config)) as harness:
        yield harness


async def test_jira_summary_description_and_comments_fit(jira: Harness) -> None:
    conn = JiraConnector(jira_helpers.config(jira.url))
    auth = (jira_helpers.API_EMAIL, jira_helpers.API_TOKEN)
    # The sandbox refuses what Jira refuses.
    fields = {"summary": LONG, "project": {"key": "OPS"}, "issuetype": {"name": "Incident"}}
    raw = await request(jira.url, "POST", "/rest/api/3/issue", auth=auth, json={"fields": fields})
    assert raw.status_code == 400
    assert raw.json()["errors"] == {"summary": "Summary must be less than 255 characters."}
    try:
        record = await conn.create("01HLIMITS", {"title": LONG, "description": HUGE})
        issue = (await conn.fetch(record.external_id)).fields
        assert_cut(issue["title"], 255)
        assert_cut(issue["description"], 32_767)
        assert record.fields["title"] == issue["title"]  # what it stored, as ours
        await conn.update(record.external_id, {"title": LONG + "!"})
        assert_cut((await conn.fetch(record.external_id)).fields["title"], 255)
        comment_id = await conn.add_comment(record.external_id, HUGE)
        assert comment_id is not None
        assert_cut((await conn.fetch(record.external_id)).fields["comment"], 32_767)
    finally:
        await conn.aclose()


async def test_jira_reports_the_default_priority_it_filled_in(jira: Harness) -> None:
    conn = JiraConnector(jira_helpers.config(jira.url))
    try:
        record = await conn.create("01HPRIO", {"title": "No priority given"})
        assert record.fields["priority"] == "P3"  # Medium, Jira's default
        # Asked to clear it, an issue keeps a priority: the answer says which.
        written = await conn.update(record.external_id, {"priority": None, "title": "t2"})
        assert written.stored == {"priority": "P3", "title": "t2"}
    finally:
        await conn.aclose()


# -- PagerDuty ---------------------------------------------------------------------------------
@pytest.fixture
async def pd() -> AsyncIterator[Harness]:
    config = PagerDutyConfig(api_token=pd_helpers.TOKEN, api_user=pd_helpers.FROM)
    async with running(lambda _: pd_app(config)) as harness:
        yield harness


async def test_pagerduty_title_fits_and_the_on_call_assignee_is_reported(pd: Harness) -> None:
    conn = PagerDutyConnector(pd_helpers.config(pd.url))
    headers = {"Authorization": f"Token token={pd_helpers.TOKEN}", "From": pd_helpers.FROM}
    body = {"incident": {"type": "incident", "title": LONG, "service": {
        "id": "PSVC001", "type": "service_reference"}}}  # fmt: skip
    raw = await request(pd.url, "POST", "/incidents", headers=headers, json=body)
    assert raw.status_code == 400 and "too long" in raw.json()["error"]["errors"][0]
    try:
        record = await conn.create("01HPD", {"title": LONG})
        assert_cut((await conn.fetch(record.external_id)).fields["title"], 1024)
        # No assignee sent: the escalation policy's on-call user was assigned.
        oncall = record.fields["assignee"]
        assert oncall is not None and "@" in oncall
        # Unassigning is not something PagerDuty does: the answer names who stays assigned.
        written = await conn.update(record.external_id, {"assignee": None})
        assert written.stored == {"assignee": oncall}
    finally:
        await conn.aclose()


# -- ServiceNow ----------------------------------------------------------------------------------
def snow(url: str, **options: str) -> ServiceNowConnector:
    return ServiceNowConnector(IntegrationConfig.model_validate({
        "id": "prod-snow", "type": "servicenow", "base_url": url, "username": "incident-sync",
        "password": "secret", "options": options}))  # fmt: skip


async def test_servicenow_learns_its_column_lengths_from_the_dictionary() -> None:
    # An instance whose administrators shortened the short description.
    config = ServiceNowConfig(max_lengths={"task.short_description": 80})
    async with running(lambda _: sn_app(config)) as sn:
        conn = snow(sn.url)
        try:
            assert await conn.field_limits() == {"title": 80, "description": 4000}
            record = await conn.create("01HSN", {"title": LONG, "description": LONG})
            assert_cut(record.fields["title"], 80)
            assert_cut(record.fields["description"], 4000)
            # A stock instance without our cutting: a fixed-size column keeps what fits,
            # silently, with no sign that it was cut.
            auth = ("incident-sync", "secret")
            raw = await request(sn.url, "PATCH", f"/api/now/table/incident/{record.external_id}",
                                auth=auth, json={"short_description": LONG})  # fmt: skip
            assert raw.json()["result"]["short_description"] == LONG[:80]
        finally:
            await conn.aclose()
        # Configured lengths win; the dictionary is not asked.
        given = snow(sn.url, column_lengths="short_description=40")
        before = len(sn.api_requests("/api/now/table/sys_dictionary"))
        assert await given.field_limits() == {"title": 40}
        assert len(sn.api_requests("/api/now/table/sys_dictionary")) == before
        await given.aclose()


async def test_servicenow_reports_the_value_its_business_rule_stored() -> None:
    config = ServiceNowConfig(collapse_spaces=("short_description",))
    async with running(lambda _: sn_app(config)) as sn:
        conn = snow(sn.url)
        try:
            record = await conn.create("01HWS", {"title": "Disk  full  on db-1"})
            assert record.fields["title"] == "Disk full on db-1"
            written = await conn.update(record.external_id, {"title": "Disk  still  full"})
            assert written.stored == {"title": "Disk still full"}
        finally:
            await conn.aclose()


async def test_servicenow_without_dictionary_access_assumes_the_stock_lengths() -> None:
    async with running(lambda _: sn_app(ServiceNowConfig())) as sn:
        conn = snow(sn.url)
        try:
            # The sandbox lets every user read the dictionary: answer as an ACL would.
            async def refuse(*_: object, **__: object) -> list[dict[str, str]]:
                raise ToolError("ACL Exception", status=403, retryable=False)

            conn.client.query = refuse  # type: ignore[method-assign]
            assert await conn.field_limits() == {
                "title": STOCK_LENGTHS["short_description"],
                "description": STOCK_LENGTHS["description"],
            }
        finally:
            await conn.aclose()


# -- Slack ---------------------------------------------------------------------------------------
async def test_slack_blocks_fit_and_long_replies_are_cut() -> None:
    async with running(lambda _: slack_app()) as slack:
        conn = SlackConnector(IntegrationConfig.model_validate({
            "id": "ops-slack", "type": "slack", "base_url": f"{slack.url}/api",
            "api_key": "xoxb-sandbox-token", "options": {"channel": "C0SANDBOX01"}}))  # fmt: skip
        raw = await request(slack.url, "POST", "/api/chat.postMessage", headers={
            "Authorization": "Bearer xoxb-sandbox-token"}, json={"channel": "C0SANDBOX01",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": LONG}}]})  # fmt: skip
        assert raw.json() == {"ok": False, "error": "invalid_blocks"}
        try:
            record = await conn.create("01HSL", {"title": LONG, "description": "<&>" * 2000})
            await conn.update(record.external_id, {"description": LONG})
            # The metadata keeps the values whole: the message's record is what was sent.
            assert (await conn.fetch(record.external_id)).fields["description"] == LONG
            await conn.add_comment(record.external_id, HUGE)
            channel, ts = record.external_id.split(":")
            message = await conn.client.message(channel, ts)
            texts = [b["text"]["text"] for b in message["blocks"] if "text" in b]
            assert all(len(t) <= 3000 for t in texts) and texts[-1].endswith(MARKER)
            (listed,) = (await request(slack.url, "GET", "/_sandbox/messages")).json()["messages"]
            (reply,) = listed["replies"]
            assert len(reply) <= 40_000 and reply.endswith(MARKER)
        finally:
            await conn.aclose()
