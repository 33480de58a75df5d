"""Declare from the tool: an integration's `declare` rule makes an unlinked record of its tool
declare a platform incident, linked to it, exactly once per record; then the pair syncs.

The real parts: broker, redis-server, the incident.io and ServiceNow sandboxes over HTTP, the
pipeline and the reconciler as child processes. `prod-snow` declares for priority 1 records
(impact and urgency 1 make priority 1, the canonical severity `critical`); its trigger matches no
platform incident, so the pipeline makes no ServiceNow record of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from incident_sync.connectors.incidentio.connector import IDEMPOTENCY_PREFIX
from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.outbound.context import Context, mappings_of
from incident_sync.outbound.stages.gate.gate import Gate
from incident_sync.outbound.state import StateStore
from incident_sync.runtime.configfiles import load_config
from incident_sync.runtime.settings import Settings
from incident_sync.syncmodel.declare import declare_key
from incident_sync.syncmodel.events import ChangeEvent, ChangeKind, FieldChange
from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect
from tests.integration.conftest import im, start_stack

pytestmark = pytest.mark.integration

NEVER = {"all": [{"field": "custom.Affected team", "equals": "No such team"}]}
POLL_S = 3.0
CRITICAL = {"when": {"all": [{"field": "severity", "equals": "critical"}]}}


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    overrides = {"prod-snow": {"trigger": NEVER, "declare": CRITICAL}}
    yield from start_stack(
        overrides=overrides,
        extra_env={"RECONCILE_POLL_INTERVAL_S": str(POLL_S), "RECONCILE_POLL_OVERLAP_S": "2"},
        sync_severity=True,
    )


def db(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url, decode_responses=False)


def linked_incident(stack: Stack, sys_id: str) -> str | None:
    value: Any = db(stack).get(keys.link("default", "prod-snow", sys_id))
    return value.decode() if value is not None else None


def incidents(tools: Tools) -> int:
    return int(tools.io_stats()["incidents"])


def named(tools: Tools, name: str) -> list[dict[str, Any]]:
    """The platform incidents called `name` (through the sandbox's API list)."""
    found = tools.io.get("/_sandbox/incidents").json()
    items = found.get("incidents", found) if isinstance(found, dict) else found
    return [i for i in items if i.get("name") == name]


def declared(stack: Stack, tools: Tools, sys_id: str) -> str:
    pid = wait_for(lambda: linked_incident(stack, sys_id), what="the declared incident")
    tools.quiesce()
    return pid


def declare_audits(stack: Stack, sys_id: str) -> list[dict[str, Any]]:
    """The audit trail's declares of one record (`im audit --action integration.declare`)."""
    entries = im(stack, "audit", "--action", "integration.declare", "--name", "prod-snow")
    return [e for e in entries["items"] if (e.get("after") or {}).get("record_id") == sys_id]


def audited_once(stack: Stack, sys_id: str, pid: str) -> None:
    audits = declare_audits(stack, sys_id)
    assert len(audits) == 1, audits
    assert audits[0]["after"]["incident"] == pid
    assert audits[0]["actor"]["name"] == "declare-rule"


def test_a_priority_1_record_declares_one_incident_and_the_pair_syncs(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    record = tools.create_snow(short_description=f"Payments down {tag}", impact="1", urgency="1")
    pid = declared(stack, tools, record["sys_id"])
    assert incidents(tools) == before + 1
    incident = tools.incident(pid)
    assert incident["name"] == f"Payments down {tag}"  # the tool's fields, through the mapping
    assert incident["severity"]["name"].casefold() == "critical"
    kinds = [e.kind.value for e in timeline(stack, pid)]
    assert "declared" in kinds
    audited_once(stack, record["sys_id"], pid)
    assert declare_audits(stack, record["sys_id"])[0]["after"]["record"] == record["number"]
    # From then on the pair syncs like any other, both ways.
    tools.edit_snow(record["sys_id"], short_description=f"Payments down in eu {tag}")
    wait_for(
        lambda: tools.incident(pid)["name"] == f"Payments down in eu {tag}" or None,
        what="the record's edit on the incident",
    )
    tools.edit_incident(pid, summary=f"cards declined {tag}")
    wait_for(
        lambda: (
            tools.snow_record(record["sys_id"]).get("description") == f"cards declined {tag}"
            or None
        ),
        what="the incident's edit on the record",
    )
    tools.quiesce()
    assert incidents(tools) == before + 1


def timeline(stack: Stack, pid: str) -> list[Any]:
    from incident_sync.syncstate.timeline import Entry

    rows: Any = db(stack).xrange(keys.timeline("default", pid))
    return [Entry.decode(i.decode(), v[b"e"]) for i, v in rows]


def test_a_record_not_matching_the_rule_declares_nothing(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    record = tools.create_snow(short_description=f"Printer jam {tag}", impact="3", urgency="3")
    tools.quiesce()
    # Later edits of it that still do not match: nothing either.
    tools.edit_snow(record["sys_id"], short_description=f"Printer jam again {tag}")
    tools.quiesce()
    assert linked_incident(stack, record["sys_id"]) is None
    assert incidents(tools) == before
    # Raised to priority 1 later: it declares then.
    tools.edit_snow(record["sys_id"], impact="1", urgency="1")
    pid = declared(stack, tools, record["sys_id"])
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Printer jam again {tag}"


def test_a_webhook_delivered_twice_declares_one_incident(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    # Every webhook three times, as distinct deliveries (fresh ids: the dedupe does not
    # know them), at once and late.
    tools.webhook_storm("servicenow", copies=3, min_delay_s=0.0, max_delay_s=0.5, fresh_ids=True)
    try:
        record = tools.create_snow(short_description=f"Queue stuck {tag}", impact="1", urgency="1")
        pid = declared(stack, tools, record["sys_id"])
    finally:
        tools.webhook_storm("servicenow")
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Queue stuck {tag}"
    audited_once(stack, record["sys_id"], pid)  # three deliveries, one declare


def test_a_crash_after_the_platforms_answer_gets_the_same_incident_back(
    env: tuple[Stack, Tools],
) -> None:
    """The platform made the incident for this record, and the worker died before writing
    the link: the record is still unlinked. The rerun asks again with the same key, and links
    that incident; no second one is made."""
    stack, tools = env
    tag = os.urandom(3).hex()
    record = before_installation(
        tools,
        lambda: tools.create_snow(short_description=f"DNS flaky {tag}", impact="1", urgency="1"),
    )
    sys_id = record["sys_id"]
    # The create the dead worker made: the same key the pipeline derives for this record.
    made = platform_create(stack, IDEMPOTENCY_PREFIX + declare_key("prod-snow", sys_id), tag)
    before = incidents(tools)
    assert linked_incident(stack, sys_id) is None
    tools.edit_snow(sys_id, description=f"resolver timeouts {tag}")  # the next webhook
    pid = declared(stack, tools, sys_id)
    assert pid == made
    assert incidents(tools) == before
    audited_once(stack, sys_id, pid)


def test_the_poller_seeing_a_declared_record_still_makes_one_incident(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    record = tools.create_snow(short_description=f"Login errors {tag}", impact="1", urgency="1")
    pid = declared(stack, tools, record["sys_id"])
    after_webhook = incidents(tools)
    # The reconciler's poll of ServiceNow reads the record again.
    poll(stack)
    tools.quiesce()
    assert incidents(tools) == after_webhook
    assert linked_incident(stack, record["sys_id"]) == pid
    audited_once(stack, record["sys_id"], pid)


def test_the_poller_alone_declares_a_record_whose_webhook_was_lost(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    tag = os.urandom(3).hex()
    before = incidents(tools)
    record = before_installation(
        tools,
        lambda: tools.create_snow(short_description=f"Cache cold {tag}", impact="1", urgency="1"),
    )
    poll(stack)
    pid = declared(stack, tools, record["sys_id"])
    poll(stack)
    tools.quiesce()
    assert incidents(tools) == before + 1
    assert tools.incident(pid)["name"] == f"Cache cold {tag}"


async def test_two_workers_racing_on_one_record_declare_one_incident(
    env: tuple[Stack, Tools],
) -> None:
    """Two gates (as two workers would, say around a rebalance) take two deliveries of one
    unlinked record at the same moment: both ask the platform, one incident is made, and both
    link the record to it."""
    stack, tools = env
    tag = os.urandom(3).hex()
    record = before_installation(
        tools,
        lambda: tools.create_snow(short_description=f"Disk full {tag}", impact="1", urgency="1"),
    )
    before = incidents(tools)
    config = load_config(stack.config_path, mappings_dir=stack.workdir)
    gates = [
        Gate(
            Context(
                settings=Settings(),
                config=config,
                store=StateStore(connect(stack.redis_url)),
                mappings=mappings_of(config),
            )
        )
        for _ in range(2)
    ]
    try:
        events = [
            ChangeEvent(
                delivery_id=f"race-{tag}-{n}",
                integration_id="prod-snow",
                external_id=record["sys_id"],
                kind=ChangeKind.UPDATED,
                changes={"title": FieldChange(new=f"Disk full {tag}")},
                actor="john.smith",
            )
            for n in range(2)
        ]
        results = await asyncio.gather(*(g.process(e) for g, e in zip(gates, events, strict=True)))
    finally:
        for gate in gates:
            await gate.ctx.aclose()
    pids = {r.linked.platform_incident_id for r in results if r.linked is not None}
    assert len(pids) == 1
    assert incidents(tools) == before + 1
    pid = pids.pop()
    assert linked_incident(stack, record["sys_id"]) == pid
    audited_once(stack, record["sys_id"], pid)  # the attempt that linked it, not both


def before_installation(tools: Tools, make: Any) -> Any:
    tools.drop_webhooks("servicenow", 1.0)
    try:
        return make()
    finally:
        tools.drop_webhooks("servicenow", 0.0)


def platform_create(stack: Stack, key: str, tag: str) -> str:
    """The platform's create, as the pipeline's connector sends it (incident.io's API)."""
    r = httpx.post(
        stack.url("incidentio") + "/v2/incidents",
        json={"idempotency_key": key, "visibility": "public", "name": f"DNS flaky {tag}"},
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=10.0,
    )
    r.raise_for_status()
    return str(r.json()["incident"]["id"])


def poll(stack: Stack) -> None:
    """Wait for the reconciler's next complete poll of ServiceNow (its watermark moves once
    what it listed is on the broker)."""
    key = keys.reconcile_watermark("default", "prod-snow")
    first = db(stack).get(key)
    wait_for(lambda: db(stack).get(key) not in (None, first) or None, 30, "a poll")
    second = db(stack).get(key)
    wait_for(lambda: db(stack).get(key) != second or None, 30, "another poll")
