"""Day one in bulk: `im integration link NAME --auto --by correlation|reference|title` matches
the platform's existing incidents with the tools' existing records, as a control-API job the
reconciler runs on the real tools: a dry run prints the plan and writes nothing, the real run
links (audited, each pair synced once), a rerun changes nothing, an ambiguous match is listed
and never linked, and a viewer may not ask.

The real parts: broker, redis-server, the incident.io, ServiceNow, Jira, PagerDuty and Datadog
sandboxes over HTTP, the pipeline, the control service and the reconciler as child processes,
the real `im`. The records "existed before installation": made with the tools' webhooks
switched off, so the pipeline never heard of them; every integration has a trigger no
incident matches, so the pipeline makes no record of its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel.matching import By
from incident_sync.syncstate.linkjobs import JobStatus, LinkJob, LinkJobStore
from tests.integration.conftest import im, run_im, start_stack

pytestmark = pytest.mark.integration

NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    sides = ("prod-snow", "prod-jira", "prod-pd", "prod-dd")
    overrides = {side: {"trigger": NEVER} for side in sides}
    yield from start_stack(tools=("jira", "pagerduty", "datadog"), overrides=overrides)


def before_installation(tools: Tools, tool: str, make: Callable[[], Any]) -> Any:
    """A record made while nobody listens to the tool's webhooks."""
    tools.drop_webhooks(tool, 1.0)
    try:
        return make()
    finally:
        tools.drop_webhooks(tool, 0.0)


def auto(stack: Stack, name: str, by: str, *options: str, code: int = 0) -> dict[str, Any]:
    job: dict[str, Any] = im(stack, "integration", "link", name, "--auto", "--by", by, *options,
                             code=code)  # fmt: skip
    return job


def pairs(job: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(p["incident"], p["record"]): p["result"] for p in job["pairs"]}


def link_audits(stack: Stack, name: str) -> list[dict[str, Any]]:
    entries = im(stack, "audit", "--action", "integration.link", "--name", name)
    return [e for e in entries["items"] if (e.get("after") or {}).get("job")]


def test_link_auto_plans_links_and_reruns_to_nothing_by_each_rule(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    by_corr = tools.declare(f"Payments down {tag}", "cards declined")
    by_ref = tools.declare(f"Search slow {tag}", "p99 at 4s")
    by_title = tools.declare(f"Checkout latency in eu-west {tag}", "timeouts")
    twice = tools.declare(f"Disk full {tag}", "db-1")
    snow_corr = before_installation(
        tools,
        "servicenow",
        lambda: tools.create_snow(
            short_description=f"Card payments failing {tag}", u_incident_io_id=by_corr["id"]
        ),
    )
    snow_ref = before_installation(
        tools,
        "servicenow",
        lambda: tools.create_snow(
            short_description=f"Customers report slowness {tag}",
            description=f"Tracked as {by_ref['reference']} in incident.io.",
        ),
    )
    # The other way round: an incident whose summary names a ticket raised before it.
    snow_first = before_installation(
        tools, "servicenow", lambda: tools.create_snow(short_description=f"VPN drops {tag}")
    )
    names_ticket = tools.declare(f"Remote access {tag}", f"Opened from {snow_first['number']}.")
    snow_title = before_installation(
        tools,
        "servicenow",
        lambda: tools.create_snow(short_description=f"checkout LATENCY in EU-West {tag}!"),
    )
    snow_twice = [
        before_installation(
            tools, "servicenow", lambda: tools.create_snow(short_description=f"Disk full {tag}")
        )
        for _ in range(2)
    ]
    jira_corr = before_installation(
        tools,
        "jira",
        lambda: tools.create_jira(
            summary=f"Payments incident {tag}", labels=[f"incident-sync-{by_corr['id']}"]
        ),
    )
    paged = before_installation(
        tools,
        "pagerduty",
        lambda: tools.create_pd(
            title=f"Payments paged {tag}", incident_key=f"incident-sync-{by_corr['id']}"
        ),
    )
    tools.quiesce()  # fmt: skip
    made = [r["sys_id"] for r in tools.snow_records_for(by_corr["id"])]
    assert made == [snow_corr["sys_id"]]  # made by hand, not by the pipeline

    # A dry run prints the plan and writes nothing.
    dry = auto(stack, "prod-snow", "correlation", "--dry-run")
    assert dry["status"] == "done" and dry["dry_run"] is True
    assert pairs(dry) == {(by_corr["id"], snow_corr["sys_id"]): "planned"}
    planned = dry["pairs"][0]
    assert planned["record_reference"] == snow_corr["number"]
    assert planned["incident_reference"] == by_corr["reference"]
    assert dry["counts"]["linked"] == 0 and dry["counts"]["planned"] == 1
    assert dry["requests"]["prod-snow"] >= 1 and dry["requests"]["incidentio"] >= 1
    assert link_audits(stack, "prod-snow") == []

    # The real run links the pair, audits it and syncs it once.
    done = auto(stack, "prod-snow", "correlation", "--since", "1d")
    assert pairs(done) == {(by_corr["id"], snow_corr["sys_id"]): "linked"}
    assert done["counts"]["linked"] == 1 and done["counts"]["done"] == 1
    assert done["pairs"][0]["event_id"]
    sys_id = snow_corr["sys_id"]
    wait_for(
        lambda: (
            tools.incident(by_corr["id"])["name"] == tools.snow_record(sys_id)["short_description"]
        ),
        30,
        "the sync of the pair",
    )
    audits = link_audits(stack, "prod-snow")
    assert [(a["after"]["incident"], a["after"]["record"]) for a in audits] == [
        (by_corr["id"], snow_corr["number"])
    ]
    assert audits[0]["after"]["job"] == done["id"] and audits[0]["actor"]["name"]

    # A rerun changes nothing: what is linked is left out.
    again = auto(stack, "prod-snow", "correlation")
    assert again["pairs"] == [] and again["counts"]["linked"] == 0
    assert again["counts"]["already_linked"] >= 1
    assert len(link_audits(stack, "prod-snow")) == 1

    # By a reference written in a field: the ticket names the incident's INC-n, or the
    # incident the ticket's number.
    ref = auto(stack, "prod-snow", "reference")
    assert pairs(ref) == {
        (by_ref["id"], snow_ref["sys_id"]): "linked",
        (names_ticket["id"], snow_first["sys_id"]): "linked",
    }

    # By title (normalised, within the window); two tickets with one title are ambiguous.
    title = auto(stack, "prod-snow", "title")
    assert pairs(title) == {(by_title["id"], snow_title["sys_id"]): "linked"}
    ambiguous = {(a["side"], a["id"]): set(a["candidates"]) for a in title["ambiguous"]}
    twins = {t["sys_id"] for t in snow_twice}
    assert ambiguous[("incident", twice["id"])] == twins
    assert title["counts"]["ambiguous"] >= 1
    # Never linked: a rerun lists it again, and links nothing new.
    rerun = auto(stack, "prod-snow", "title")
    assert rerun["pairs"] == []
    assert {a["id"] for a in rerun["ambiguous"]} >= {twice["id"]}
    assert tools.snow_records_for(twice["id"]) == []

    # Another tool: the Jira issue labelled with the incident's id.
    jira = auto(stack, "prod-jira", "correlation")
    assert pairs(jira) == {(by_corr["id"], str(jira_corr["id"])): "linked"}
    assert jira["pairs"][0]["record_reference"] == jira_corr["key"]
    assert auto(stack, "prod-jira", "correlation")["pairs"] == []
    # Each link is on the incident's timeline, found by the Jira key people know.
    shown = im(stack, "incident", "timeline", jira_corr["key"])
    assert (shown["incident"], shown["resolved_by"]) == (by_corr["id"], "reference")
    by_job = {e["detail"]["job"]: e for e in shown["entries"] if e["rule"] == "link_job"}
    assert by_job[jira["id"]]["sides"] == ["prod-jira"]
    assert by_job[done["id"]]["detail"]["record"] == snow_corr["sys_id"]
    assert by_job[done["id"]]["detail"]["match"] == "correlation"
    # And PagerDuty: the page whose incident_key names the incident.
    pd = auto(stack, "prod-pd", "correlation")
    assert pairs(pd) == {(by_corr["id"], paged["id"]): "linked"}
    assert pd["pairs"][0]["record_reference"] == f"#{paged['incident_number']}"
    assert auto(stack, "prod-pd", "correlation")["pairs"] == []


def test_datadog_incidents_link_by_title(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    incident = tools.declare(f"Error budget burn {tag}", "SLO at risk")
    declared = before_installation(
        tools, "datadog", lambda: tools.create_dd(f"error budget BURN {tag}")
    )
    plan = auto(stack, "prod-dd", "title", "--dry-run")
    assert pairs(plan)[(incident["id"], declared["id"])] == "planned"
    done = auto(stack, "prod-dd", "title")
    assert pairs(done)[(incident["id"], declared["id"])] == "linked"
    assert done["pairs"][0]["record_reference"].startswith("IR-")
    assert (incident["id"], declared["id"]) not in pairs(auto(stack, "prod-dd", "title"))


def test_the_table_output_shows_the_plan(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    incident = tools.declare(f"Queue backlog {tag}", "consumers stuck")
    ticket = before_installation(tools, "servicenow", lambda: tools.create_snow(
        short_description=f"Queue backlog {tag}"))  # fmt: skip
    shown = subprocess.run(  # noqa: S603 - our own CLI
        [str(Path(sys.executable).parent / "im"), "integration", "link", "prod-snow", "--auto",
         "--by", "title", "--dry-run"],
        env={**os.environ, "IM_API_URL": stack.url("control"), "IM_TOKEN": stack.admin_token},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert ticket["number"] in shown.stdout and incident["reference"] in shown.stdout
    assert "dry run" in shown.stdout
    # Not a terminal: plain progress lines on stderr, the last one the outcome.
    assert shown.stderr.strip().splitlines()[-1].startswith("prod-snow: done:")


def test_a_viewer_may_not_ask_for_a_link_job(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    base = stack.url("control")
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    viewer = httpx.post(
        f"{base}/api/v1/tokens",
        json={"name": "watcher", "role": "viewer", "scope": {"tenants": ["default"]}},
        headers=admin,
        timeout=30,
    ).json()["token"]
    path = f"{base}/api/v1/tenants/default/integrations/prod-snow/link-jobs"
    refused = httpx.post(
        path,
        json={"by": "title"},
        headers={"Authorization": f"Bearer {viewer}"},
        timeout=30,
    )
    assert refused.status_code == 403 and "may not" in refused.json()["reason"]
    code, _ = run_im(stack, "--token", viewer, "integration", "link", "prod-snow", "--auto",
                     "--by", "title")  # fmt: skip
    assert code == 4
    bad = httpx.post(path, json={"by": "guess"}, headers=admin, timeout=30)
    assert bad.status_code == 422 and "by" in bad.text
    ages = [httpx.post(path, json={"by": "title", "since": since, "dry_run": True},
                       headers=admin, timeout=30)
            for since in ("999999d", "0", "soon")]  # fmt: skip
    assert [r.status_code for r in ages] == [202, 422, 422]
    assert ages[0].json()["since_s"] == 3650 * 86_400  # all there is, within a date's range
    unknown = httpx.post(path.replace("prod-snow", "nope"), json={"by": "title"},
                         headers=admin, timeout=30)  # fmt: skip
    assert unknown.status_code == 404


def test_a_tool_that_cannot_list_its_records_is_a_409(env: tuple[Stack, Tools]) -> None:
    stack, _ = env
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    chat = f"{stack.url('control')}/api/v1/tenants/default/integrations/team-chat"
    made = httpx.put(chat, json={"type": "slack", "base_url": "http://127.0.0.1:9",
                                 "api_key": "xoxb-unused", "trigger": NEVER,
                                 "options": {"channel": "C0123456789"}},
                     headers=admin, timeout=30)  # fmt: skip
    assert made.status_code in (200, 201), made.text
    try:
        r = httpx.post(f"{chat}/link-jobs", json={"by": "title"}, headers=admin, timeout=30)
        assert r.status_code == 409 and "cannot list" in r.json()["reason"]
    finally:
        httpx.delete(chat, headers=admin, timeout=30).raise_for_status()


def test_initial_platform_gives_the_record_the_incidents_values_at_first_link(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    incident = tools.declare(f"Cache misses {tag}", "hit ratio at 20%")
    ticket = before_installation(tools, "servicenow", lambda: tools.create_snow(
        short_description=f"cache MISSES {tag}!!", description="raised by the NOC"))  # fmt: skip
    tools.quiesce()
    job = auto(stack, "prod-snow", "title", "--initial", "platform")
    assert job["initial"] == "platform"
    assert pairs(job)[(incident["id"], ticket["sys_id"])] == "linked"
    # The platform won every shared field: the ticket takes the incident's title and
    # summary; without --initial the ticket is read and its values reach the incident.
    wait_for(
        lambda: tools.snow_record(ticket["sys_id"])["short_description"] == f"Cache misses {tag}",
        30,
        "the incident's title on the ticket",
    )
    assert tools.snow_record(ticket["sys_id"])["description"] == "hit ratio at 20%"
    tools.quiesce()
    assert tools.incident(incident["id"])["name"] == f"Cache misses {tag}"
    audits = [a for a in link_audits(stack, "prod-snow") if a["after"]["job"] == job["id"]]
    assert {a["after"]["initial"] for a in audits} == {"platform"}


def test_without_initial_the_first_sync_reads_the_record(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    incident = tools.declare(f"Login loop {tag}", "users bounce")
    ticket = before_installation(tools, "servicenow", lambda: tools.create_snow(
        short_description=f"LOGIN loop {tag}"))  # fmt: skip
    tools.quiesce()
    job = auto(stack, "prod-snow", "title")
    assert pairs(job)[(incident["id"], ticket["sys_id"])] == "linked"
    wait_for(
        lambda: tools.incident(incident["id"])["name"] == f"LOGIN loop {tag}",
        30,
        "the ticket's title on the incident",
    )


def test_a_job_left_running_by_a_reconciler_that_died_is_marked_failed(
    env: tuple[Stack, Tools],
) -> None:
    stack, _ = env
    job = LinkJob(integration="prod-snow", by=By.TITLE, since_s=60, status=JobStatus.RUNNING,
                  worker="reconciler-gone")  # fmt: skip

    async def save() -> None:
        redis = Redis.from_url(stack.redis_url)
        await LinkJobStore(redis).request(job)
        await redis.aclose()

    asyncio.run(save())
    # The reconciler that takes the integration next (this one, restarted) finds it.
    reconciler = stack.child("reconciler")
    reconciler.kill()
    reconciler.start()
    path = f"{stack.url('control')}/api/v1/tenants/default/integrations/prod-snow/link-jobs"
    auth = {"Authorization": f"Bearer {stack.admin_token}"}

    def failed() -> dict[str, Any] | None:
        got: dict[str, Any] = httpx.get(f"{path}/{job.id}", headers=auth, timeout=10).json()
        return got if got["status"] == "failed" else None

    marked = wait_for(failed, 30, "the orphaned job marked failed")
    assert "reconciler-gone" in marked["error"] and "stopped" in marked["error"]
