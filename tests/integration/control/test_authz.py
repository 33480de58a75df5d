"""Role x route: every route of the API under every role gives exactly the outcome the
policy in deploy/policy/control.rego allows; and editing that file changes the outcomes of
the running service, with no code change and no restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.integration.control.authz_setups import (
    ADMIN,
    CASES_STATE,
    CONFLICT_A,
    CONFLICT_B,
    DLQ_ENTRY,
    EVERYONE,
    JOB_A,
    MANAGERS,
    PLATFORM,
    Q_A,
    Q_B,
    Q_T,
    ROLES,
    RUN_A,
    SIGNED_IN,
    SNOW,
    STATUS,
    TENANT_MANAGERS,
    A,
    Case,
    deleting,
    dlq_entries,
    linked_record,
    pending_conflicts,
    quarantine_entries,
    saved_job,
    saved_run,
    schedule,
    timelines,
    token_path,
)
from tests.integration.control.service import ControlService, on_server_and_cluster

pytestmark = pytest.mark.integration

TI = "/api/v1/tenants/{tenant}/integrations"
I = f"{TI}/{{name}}"  # noqa: E741
OWN = f"{I}/ownership/{{field}}"
REC = f"{I}/reconcile"
DQ = f"{I}/dlq"
CL = "/api/v1/tenants/{tenant}/conflicts"
QL = "/api/v1/tenants/{tenant}/quarantine"
QE = f"{QL}/{{quarantine_id}}"
C = f"{CL}/{{conflict_id}}"
TL = "/api/v1/tenants/{tenant}/incidents/{ref}/timeline"
EX = "/api/v1/tenants/{tenant}/incidents/{ref}/explain"
NEW_C, NEW_D = {"name": "snow-c", **SNOW}, {"name": "snow-d", **SNOW}
MADE = {"name": "made", "role": "viewer", "scope": {"tenants": ["acme"]}}
CASES = [
    Case("GET", "/api/v1/openapi.json", EVERYONE, "/api/v1/openapi.json"),
    Case("GET", "/health", EVERYONE, "/health"),
    Case("GET", "/ready", EVERYONE, "/ready"),
    Case("GET", "/metrics", EVERYONE, "/metrics"),
    Case("GET", "/api/v1/whoami", SIGNED_IN, "/api/v1/whoami"),
    Case("GET", f"{A}/integrations", MANAGERS, TI),
    Case("GET", "/api/v1/tenants/other/integrations", ADMIN, TI),
    Case("POST", f"{A}/integrations", MANAGERS, TI,
         body=lambda: NEW_C, ok=(201,), before=deleting(f"{A}/integrations/snow-c")),
    Case("POST", f"{A}/integrations", TENANT_MANAGERS, TI,
         body=lambda: NEW_D, ok=(201,), before=deleting(f"{A}/integrations/snow-d")),
    Case("GET", f"{A}/integrations/snow-a", MANAGERS, I),
    Case("GET", f"{A}/integrations/snow-b", TENANT_MANAGERS, I),
    Case("GET", "/api/v1/tenants/other/integrations/snow-x", ADMIN, I),
    Case("PUT", f"{A}/integrations/snow-a", MANAGERS, I, body=lambda: SNOW),
    Case("PATCH", f"{A}/integrations/snow-a", MANAGERS, I, body=lambda: {"direction": "outbound"}),
    Case("PATCH", f"{A}/integrations/snow-b", TENANT_MANAGERS, I, body=lambda: {"actor": "x"}),
    Case("DELETE", f"{A}/integrations/snow-a", MANAGERS, I),
    Case("POST", f"{A}/integrations/snow-a/pause", MANAGERS, f"{I}/pause"),
    Case("POST", f"{A}/integrations/snow-a/resume", MANAGERS, f"{I}/resume"),
    Case("POST", f"{A}/integrations/snow-a/test", MANAGERS, f"{I}/test"),
    Case("POST", f"{A}/integrations/snow-b/test", TENANT_MANAGERS, f"{I}/test"),
    # allowed: the side is to be asked, but it has no credentials to ask with (409)
    Case("GET", f"{A}/integrations/snow-a/fields", MANAGERS, f"{I}/fields", ok=(409,)),
    Case("GET", f"{A}/integrations/snow-b/fields", TENANT_MANAGERS, f"{I}/fields", ok=(409,)),
    Case("POST", f"{A}/integrations/snow-a/field-maps/check", MANAGERS, f"{I}/field-maps/check",
         body=lambda: {"field_maps": [{"platform": "title", "tool": "short_description"}]},
         ok=(409, 502)),
    Case("GET", "/api/v1/tenants/other/integrations/snow-x/fields", ADMIN, f"{I}/fields",
         ok=(409,)),
    Case("GET", f"{A}/integrations/snow-a/ownership", MANAGERS, f"{I}/ownership"),
    Case("PUT", f"{A}/integrations/snow-a/ownership/severity", MANAGERS, OWN,
         body=lambda: {"owner": "platform", "priority": 10}),
    Case("DELETE", f"{A}/integrations/snow-a/ownership/title", MANAGERS, OWN),
    Case("POST", f"{A}/integrations/snow-a/sync", MANAGERS, f"{I}/sync", ok=(202,),
         before=linked_record),
    Case("POST", f"{A}/integrations/snow-b/sync?dry_run=true", TENANT_MANAGERS, f"{I}/sync"),
    # allowed: the tool is asked whether sys1 exists, and snow-a's (no credentials) refuses
    Case("POST", f"{A}/integrations/snow-a/sync/sys1", MANAGERS, f"{I}/sync/{{record_id}}",
         ok=(502,), before=linked_record),
    Case("POST", f"{A}/integrations/snow-b/sync/sys1", TENANT_MANAGERS,
         f"{I}/sync/{{record_id}}", ok=(404,)),  # allowed, but nothing of snow-b is linked
    # allowed: the platform is asked whether the incident exists, and (no credentials) refuses
    Case("POST", f"{A}/integrations/snow-a/links", MANAGERS, f"{I}/links",
         body=lambda: {"incident": "INC-A", "record": "INC0010001"}, ok=(502,)),
    Case("POST", f"{A}/integrations/snow-b/links", TENANT_MANAGERS, f"{I}/links",
         body=lambda: {"incident": "INC-A", "record": "INC0010001"}, ok=(502,)),
    Case("POST", f"{A}/integrations/snow-a/link-jobs", MANAGERS, f"{I}/link-jobs",
         body=lambda: {"by": "correlation", "dry_run": True}, ok=(202,)),
    Case("POST", f"{A}/integrations/snow-b/link-jobs", TENANT_MANAGERS, f"{I}/link-jobs",
         body=lambda: {"by": "title", "since": "7d"}, ok=(202,)),
    Case("GET", f"{A}/integrations/snow-a/link-jobs/{JOB_A}", MANAGERS,
         f"{I}/link-jobs/{{job_id}}", before=saved_job),
    Case("POST", f"{A}/integrations/snow-a/backfill-jobs", MANAGERS, f"{I}/backfill-jobs",
         body=lambda: {"dry_run": True}, ok=(202,)),
    Case("POST", f"{A}/integrations/snow-b/backfill-jobs", TENANT_MANAGERS,
         f"{I}/backfill-jobs", body=lambda: {"since": "7d", "status": "all"}, ok=(202,)),
    Case("GET", f"{A}/integrations/snow-a/backfill-jobs/{JOB_A}", MANAGERS,
         f"{I}/backfill-jobs/{{job_id}}", before=saved_job),
    Case("GET", f"{A}/integrations/snow-a/status", STATUS, f"{I}/status"),
    Case("GET", f"{A}/integrations/snow-b/status", STATUS - {"manager_one"}, f"{I}/status"),
    Case("GET", "/api/v1/tenants/other/integrations/snow-x/status", ADMIN, f"{I}/status"),
    Case("GET", f"{A}/status", STATUS, "/api/v1/tenants/{tenant}/status"),
    Case("GET", "/api/v1/tenants/other/status", ADMIN, "/api/v1/tenants/{tenant}/status"),
    Case("GET", f"{A}/platform", TENANT_MANAGERS, "/api/v1/tenants/{tenant}/platform"),
    Case("GET", f"{A}/platform/fields", TENANT_MANAGERS,
         "/api/v1/tenants/{tenant}/platform/fields", ok=(409,)),
    Case("PUT", f"{A}/platform", ADMIN, "/api/v1/tenants/{tenant}/platform",
         body=lambda: PLATFORM),
    Case("GET", f"{A}/integrations/snow-a/dlq", MANAGERS, DQ, before=dlq_entries),
    Case("GET", f"{A}/integrations/snow-b/dlq", TENANT_MANAGERS, DQ),
    Case("POST", f"{A}/integrations/snow-a/dlq/retry", MANAGERS, f"{DQ}/retry",
         body=lambda: {"dry_run": True}),
    Case("POST", f"{A}/integrations/snow-a/dlq/{DLQ_ENTRY}/retry", MANAGERS,
         f"{DQ}/{{entry_id}}/retry", ok=(202,), before=dlq_entries),
    Case("POST", f"{A}/integrations/snow-b/dlq/{DLQ_ENTRY}/retry", TENANT_MANAGERS,
         f"{DQ}/{{entry_id}}/retry", ok=(202,), before=dlq_entries),
    Case("DELETE", f"{A}/integrations/snow-a/dlq/{DLQ_ENTRY}", MANAGERS, f"{DQ}/{{entry_id}}",
         before=dlq_entries),
    Case("GET", f"{A}/quarantine", MANAGERS, QL, before=quarantine_entries),
    Case("GET", f"{A}/quarantine/{Q_A.id}", MANAGERS, QE, before=quarantine_entries),
    Case("GET", f"{A}/quarantine/{Q_T.id}", TENANT_MANAGERS, QE, before=quarantine_entries),
    Case("POST", f"{A}/quarantine/retry", MANAGERS, f"{QL}/retry",
         body=lambda: {"dry_run": True}),
    Case("POST", f"{A}/quarantine/{Q_A.id}/retry", MANAGERS, f"{QE}/retry", ok=(202,),
         before=quarantine_entries),
    Case("POST", f"{A}/quarantine/{Q_B.id}/retry", TENANT_MANAGERS, f"{QE}/retry", ok=(202,),
         before=quarantine_entries),
    Case("DELETE", f"{A}/quarantine/{Q_A.id}", MANAGERS, QE, before=quarantine_entries),
    Case("GET", f"{A}/conflicts", MANAGERS | {"commander"}, CL),
    Case("GET", f"{A}/conflicts/{CONFLICT_A}", MANAGERS | {"commander"}, C),
    Case("GET", f"{A}/conflicts/{CONFLICT_B}", TENANT_MANAGERS, C),
    Case("POST", f"{A}/conflicts/{CONFLICT_A}/resolve", MANAGERS | {"commander"}, f"{C}/resolve",
         body=lambda: {"resolution": "use-platform"}, ok=(202,), before=pending_conflicts),
    Case("POST", f"{A}/conflicts/{CONFLICT_B}/resolve", TENANT_MANAGERS, f"{C}/resolve",
         body=lambda: {"resolution": "ignore"}, ok=(202,), before=pending_conflicts),
    Case("GET", f"{A}/incidents/INC-A/timeline", TENANT_MANAGERS | {"commander"}, TL,
         before=timelines),
    Case("GET", f"{A}/incidents/sys1/timeline", TENANT_MANAGERS | {"commander"}, TL,
         before=timelines),  # a linked record's id names its incident (INC-A)
    Case("GET", f"{A}/incidents/INC-B/timeline", TENANT_MANAGERS, TL, before=timelines),
    # explaining a field: the timeline's policy, so a viewer may not
    Case("GET", f"{A}/incidents/INC-A/explain?field=title", TENANT_MANAGERS | {"commander"}, EX,
         before=timelines),
    Case("GET", f"{A}/incidents/sys1/explain?field=short_description",
         TENANT_MANAGERS | {"commander"}, EX, before=timelines),
    Case("GET", f"{A}/incidents/INC-B/explain?field=custom.Team", TENANT_MANAGERS, EX,
         before=timelines),
    Case("POST", f"{A}/integrations/snow-a/reconcile", MANAGERS, REC,
         body=lambda: {"mode": "dry-run"}, ok=(202,)),
    Case("POST", f"{A}/integrations/snow-b/reconcile", TENANT_MANAGERS, REC,
         body=lambda: {"mode": "auto-heal"}, ok=(202,)),
    Case("GET", f"{A}/integrations/snow-a/reconcile/runs", STATUS, f"{REC}/runs"),
    Case("GET", f"{A}/integrations/snow-b/reconcile/runs", STATUS - {"manager_one"},
         f"{REC}/runs"),
    Case("GET", f"{A}/integrations/snow-a/reconcile/runs/{RUN_A}", STATUS, f"{REC}/runs/{{run_id}}",
         before=saved_run),
    Case("POST", f"{A}/integrations/snow-a/reconcile/schedule", MANAGERS, f"{REC}/schedule",
         body=lambda: {"interval": "1h", "auto_heal": True}),
    Case("GET", f"{A}/integrations/snow-a/reconcile/schedule", STATUS, f"{REC}/schedule",
         before=schedule),
    Case("GET", f"{A}/audit", TENANT_MANAGERS, "/api/v1/tenants/{tenant}/audit"),
    Case("GET", "/api/v1/audit", ADMIN, "/api/v1/audit"),
    Case("GET", "/api/v1/tokens", ADMIN, "/api/v1/tokens"),
    Case("POST", "/api/v1/tokens", ADMIN, "/api/v1/tokens", body=lambda: MADE, ok=(201,)),
    Case("DELETE", "/api/v1/tokens/{token}", ADMIN, "/api/v1/tokens/{token_id}",
         before=token_path),
    Case("GET", "/api/v1/keys", ADMIN, "/api/v1/keys"),
    Case("POST", "/api/v1/keys/rotate", ADMIN, "/api/v1/keys/rotate"),
]  # fmt: skip


@pytest.fixture(scope="module", params=["server", "cluster"])
def control(request: pytest.FixtureRequest) -> ControlService:
    """These tests run on one redis-server and on a Redis Cluster."""
    return on_server_and_cluster(request)


@pytest.fixture(scope="module")
def tokens(control: ControlService) -> dict[str, str | None]:
    return {
        "admin": control.token("platform.administrator", name="root"),
        "manager": control.token("integration.manager", name="mgr", tenants=["acme"]),
        "manager_one": control.token(
            "integration.manager", name="mgr1", integrations=["acme/snow-a", "acme/snow-c"]
        ),
        "commander": control.token("incident_commander", name="ic", tenants=["acme"]),
        "viewer": control.token("viewer", name="view", tenants=["acme"]),
        "anonymous": None,
    }


@pytest.fixture(scope="module")
def admin(control: ControlService) -> Iterator[httpx.Client]:
    with control.client(control.admin) as client:
        yield client


def reset(admin: httpx.Client) -> None:
    for tenant, name in (("acme", "snow-a"), ("acme", "snow-b"), ("other", "snow-x")):
        admin.put(f"/api/v1/tenants/{tenant}/integrations/{name}", json=SNOW).raise_for_status()
    admin.put(f"{A}/platform", json=PLATFORM).raise_for_status()


def outcome(status: int) -> str:
    return "denied" if status in (401, 403) else "allowed"


def run(admin: httpx.Client, client: httpx.Client, case: Case) -> int:
    if case.method != "GET":
        reset(admin)  # what an earlier allowed write did is undone
    if case.before is not None:
        case.before(admin)
    path = case.path.replace("{token}", CASES_STATE.get("token", "000000000000"))
    body = case.body() if case.body else None
    return client.request(case.method, path, json=body).status_code


def test_every_route_is_in_the_matrix(control: ControlService) -> None:
    doc = httpx.get(f"{control.url}/api/v1/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    covered = {(c.method, c.route) for c in CASES}
    assert routes == covered


def test_role_route_matrix(
    control: ControlService, admin: httpx.Client, tokens: dict[str, str | None]
) -> None:
    CASES_STATE["redis"] = control.redis_url
    pending_conflicts()
    wrong = []
    clients = {role: control.client(tokens[role]) for role in ROLES}
    reset(admin)
    for case in CASES:
        for role in ROLES:
            status = run(admin, clients[role], case)
            expected_allowed = role in case.allowed
            if expected_allowed and status not in case.ok:
                wrong.append(f"{role} {case.method} {case.path}: {status}, wanted {case.ok}")
            if not expected_allowed:
                wanted = 401 if role == "anonymous" else 403
                if status != wanted:
                    wrong.append(f"{role} {case.method} {case.path}: {status}, wanted {wanted}")
    for client in clients.values():
        client.close()
    assert not wrong, "\n".join(wrong)


def test_a_list_shows_only_what_the_role_may_read(
    control: ControlService, admin: httpx.Client, tokens: dict[str, str | None]
) -> None:
    reset(admin)
    with control.client(tokens["manager_one"]) as c:
        names = {i["name"] for i in c.get(f"{A}/integrations").json()["items"]}
    assert "snow-a" in names and "snow-b" not in names
    with control.client(tokens["manager"]) as c:
        names = {i["name"] for i in c.get(f"{A}/integrations").json()["items"]}
    assert {"snow-a", "snow-b"} <= names


def test_a_revoked_or_unknown_token_is_refused(control: ControlService) -> None:
    token = control.token("viewer", tenants=["acme"])
    with control.client(token) as c:
        assert c.get(f"{A}/status").status_code == 200
    with control.client(control.admin) as a:
        token_id = token.split("_")[1]
        assert a.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    with control.client(token) as c:
        r = c.get(f"{A}/status")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    with control.client("ims_000000000000_nope") as c:
        assert c.get("/api/v1/whoami").status_code == 401


def _until(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_editing_the_policy_file_changes_outcomes(
    control: ControlService, admin: httpx.Client, tokens: dict[str, str | None]
) -> None:
    original = control.policy.read_text()
    viewer = control.client(tokens["viewer"])
    manager = control.client(tokens["manager"])
    reset(admin)

    def viewer_reads() -> int:
        return viewer.get(f"{A}/integrations/snow-a").status_code

    def manager_deletes() -> int:
        reset(admin)
        return manager.delete(f"{A}/integrations/snow-b").status_code

    assert viewer_reads() == 403
    assert manager_deletes() == 200
    try:
        # An operator lets viewers read integration settings, and takes deletes from managers.
        edited = original.replace('\t"integration.delete", ', "\t") + (
            '\nallow if {\n\tinput.subject.role == "viewer"\n'
            '\tinput.action == "integration.read"\n\ttenant_in_scope\n}\n'
        )
        assert edited != original
        control.policy.write_text(edited)
        assert _until(lambda: viewer_reads() == 200), "the viewer rule did not take effect"
        assert manager_deletes() == 403

        # A policy that does not compile leaves the one in force.
        control.policy.write_text(edited + "\nallow if {\n")
        time.sleep(0.1)
        assert viewer_reads() == 200 and manager_deletes() == 403
    finally:
        control.policy.write_text(original)
    assert _until(lambda: viewer_reads() == 403)
    assert manager_deletes() == 200
    viewer.close()
    manager.close()
