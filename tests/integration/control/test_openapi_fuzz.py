"""The control API conforms to its own OpenAPI document: schemathesis (`st run`, every check
it has: server errors, status codes, content types, headers, response schemas, schema-valid
requests accepted and schema-violating ones refused, missing headers, unsupported methods,
`Allow`, ignored auth, use after free, resource availability, ...; in every phase: examples,
coverage, fuzzing, stateful) against the real service as an administrator, with 0 failures.
On top, the project's own check (`fuzz_hooks.json_error_body`): every 4xx is
`{"error", "reason"}`.

Half the generated cases address things that exist (an integration, a pending conflict, a
dead-lettered write, a reconcile run, a linked record), so the handlers behind the lookups
run too. The seed is random (printed on failure; `FUZZ_SEED` replays one).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from incident_sync.syncmodel.events import DeliveryCommand
from incident_sync.syncmodel.fields import ConflictStrategy
from incident_sync.syncmodel.matching import By
from incident_sync.syncmodel.retry import DeadReason
from incident_sync.syncstate import keys
from incident_sync.syncstate.backfilljobs import BackfillJob, BackfillJobStore
from incident_sync.syncstate.conflicts import ConflictRecord, ConflictStore, SideValue
from incident_sync.syncstate.dlq import DlqEntry, DlqIndex, entry_id
from incident_sync.syncstate.linkjobs import LinkJob, LinkJobStore
from incident_sync.syncstate.reconcile import ReconcileRun, ReconcileStore, RunMode
from incident_sync.syncstate.timeline import Entry, Kind, Timeline
from tests.integration.control.service import ControlService, start_control
from tests.integration.hosts import Host, recording_host

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = 40  # per operation and phase; about half a minute for the whole document
COMMAND_ID = "0123456789abcdef0123456789abcdef"
KNOWN = {
    "tenant": "acme",
    "name": "fuzz-a",
    "field": "assigned_to",
    "conflict_id": "conflict-00000000000a",
    "entry_id": entry_id(COMMAND_ID),
    "run_id": "rec-00000000000a",
    "job_id": "lnk-00000000000a",
    "record_id": "sys1",
    "ref": "INC-A",  # an incident with a timeline
}


def snow_table(method: str, path: str) -> bytes:
    """A ServiceNow Table API that has every incident asked for (and no journal entries),
    the known record under any number; and an incident.io that has every incident."""
    found = re.match(r"^/api/now/table/incident/([^/?]+)", path)
    if method == "GET" and found:
        return orjson.dumps({"result": {"sys_id": found[1], "sys_mod_count": "1"}})
    if method == "GET" and path.startswith("/api/now/table/incident?") and "number" in path:
        return orjson.dumps({"result": [{"sys_id": KNOWN["record_id"]}]})
    incident = re.match(r"^/v2/incidents/([^/?]+)$", path)
    if method == "GET" and incident:
        return orjson.dumps({"incident": {"id": incident[1]}})
    return b'{"result": []}'


@pytest.fixture(scope="module")
def tool() -> Iterator[Host]:
    """fuzz-a's tool: a manual sync reads the record there first, and a 5xx for a tool that
    cannot be asked is a server error to schemathesis."""
    with recording_host(snow_table) as host:
        yield host


@pytest.fixture(scope="module")
def fuzzed(redis_port: int, control_broker: str) -> Iterator[ControlService]:
    """A service of its own (its own Redis db): the run creates and deletes at random. With
    its broker (manual syncs, conflict resolutions and DLQ retries publish there): a 503 is a
    server error to schemathesis."""
    service = start_control(redis_port, 6, kafka_bootstrap=control_broker)
    try:
        yield service
    finally:
        service.stop()


async def seed(redis_url: str) -> None:
    """What the known path parameters name, as the pipeline and the reconciler leave it."""
    redis = Redis.from_url(redis_url)
    now = datetime.now(UTC)
    tenant, name = KNOWN["tenant"], KNOWN["name"]
    await ConflictStore(redis).save(
        ConflictRecord(
            id=KNOWN["conflict_id"],
            tenant=tenant,
            platform_incident_id="INC-A",
            field="title",
            integration_id=name,
            strategy=ConflictStrategy.MANUAL_REVIEW,
            platform=SideValue(side="incidentio", record_id="INC-A", value="p", ts=now),
            external=SideValue(side=name, record_id=KNOWN["record_id"], value="e", ts=now),
        )
    )
    command = DeliveryCommand(
        command_id=COMMAND_ID,
        causation_id="e1",
        tenant=tenant,
        platform_incident_id="INC-A",
        source_integration_id="incidentio",
        target_integration_id=name,
        target_external_id=KNOWN["record_id"],
        set_fields={"title": "t"},
    )
    await DlqIndex(redis).add(DlqEntry.of(command, DeadReason.REJECTED, 1, "HTTP 400"))
    await ReconcileStore(redis).save(
        ReconcileRun(id=KNOWN["run_id"], tenant=tenant, integration=name, mode=RunMode.DRY_RUN)
    )
    await LinkJobStore(redis).save(
        LinkJob(id=KNOWN["job_id"], tenant=tenant, integration=name, by=By.TITLE, since_s=60)
    )
    await BackfillJobStore(redis).save(
        BackfillJob(id=KNOWN["job_id"], tenant=tenant, integration=name, since_s=60)
    )
    await redis.set(keys.link(tenant, name, KNOWN["record_id"]), "INC-A")
    entry = Entry(Kind.WRITTEN, (name,), ("title",), detail={"record": "sys1", "status": 200})
    await Timeline(redis).add(tenant, KNOWN["ref"], Entry(Kind.RECEIVED, ("incidentio",)), entry)
    await redis.aclose()


def test_the_api_conforms_to_its_openapi_document(
    fuzzed: ControlService, tool: Host, tmp_path: Path
) -> None:
    password = fuzzed.secret("fuzz-pw")
    known = {"type": "servicenow", "base_url": tool.url, "username": "u", "password": password}
    with fuzzed.client(fuzzed.admin) as admin:
        admin.put(
            f"/api/v1/tenants/{KNOWN['tenant']}/integrations/{KNOWN['name']}", json=known
        ).raise_for_status()
    asyncio.run(seed(fuzzed.redis_url))
    statuses = tmp_path / "statuses.txt"
    seed_value = os.environ.get("FUZZ_SEED") or str(random.randrange(1 << 32))
    done = subprocess.run(  # noqa: S603 - schemathesis's own CLI
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{fuzzed.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {fuzzed.admin}",
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            seed_value,
            # One worker: hypothesis describes filters by parsing their source, and CPython
            # 3.11's parser is not safe across threads ("AST constructor recursion depth
            # mismatch" under two workers).
            "--workers",
            "1",
            "--warnings",
            "off",
        ],
        cwd=tmp_path,  # its report directory and hypothesis database stay out of the repo
        env={
            **os.environ,
            # The hooks are in tests/; incident_sync comes from the install (or PYTHONPATH).
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
            ),
            "SCHEMATHESIS_HOOKS": "tests.integration.control.fuzz_hooks",
            "FUZZ_KNOWN": orjson.dumps(KNOWN).decode(),
            "FUZZ_URL": fuzzed.url,
            "FUZZ_TOOL": tool.url,
            "FUZZ_PASSWORD": password,
            "FUZZ_TOKEN": fuzzed.admin,
            "FUZZ_STATUSES": str(statuses),
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = done.stdout[-20_000:] + done.stderr[-5_000:]
    assert done.returncode == 0, f"seed {seed_value} (FUZZ_SEED replays it):\n{report}"
    # Generated requests reach the handlers, not only the validators.
    reached = {
        line.rsplit(" ", 1)[0]
        for line in statuses.read_text().splitlines()
        if line.rsplit(" ", 1)[1].startswith("2")
    }
    assert len(reached) >= 30, sorted(reached)
