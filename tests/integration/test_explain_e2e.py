"""`im incident explain REF --field FIELD` end to end: real broker, redis-server, the sandboxes
over HTTP, the pipeline and the control service. Each case makes the pipeline decide about
the title, then asks why the title holds what it holds on each side, with the real `im`
(plain lines and `-o json`) and the route itself:

- echo: our write to ServiceNow, and its echo dropped;
- ownership: a ServiceNow edit of a field the platform owns, not taken in;
- direction: one-way integrations, either way (the platform's change not written there; the
  tool's edits, which the ingress ignores, not taken in);
- conflict: parked for review, then resolved by the operator;
- an unknown field (422 naming it; exit 2), an unknown reference (404; exit 3), and the
  timeline's policy (a viewer is refused: 403, exit 4; a tenant's manager reads it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import im, run_im, start_stack
from tests.integration.test_timeline_e2e import configure, having, linked, table

pytestmark = pytest.mark.integration

P, SNOW = "incidentio", "prod-snow"


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


def explain(stack: Stack, ref: str, field: str = "title") -> dict[str, Any]:
    data: dict[str, Any] = im(stack, "incident", "explain", ref, "--field", field)
    return data


def sides(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["side"]: s for s in data["sides"]}


def until(
    stack: Stack, ref: str, match: Callable[[dict[str, dict[str, Any]]], bool], what: str
) -> dict[str, dict[str, Any]]:
    """The explanation of `ref`'s title once `match` holds, waited for."""

    def found() -> dict[str, dict[str, Any]] | None:
        answer = sides(explain(stack, ref))
        return answer if match(answer) else None

    answer: dict[str, dict[str, Any]] = wait_for(found, 30, what)
    return answer


def test_our_write_and_its_echo_dropped(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, record = linked(tools, "Explain echo")
    sys_id, number = record["sys_id"], record["number"]
    tools.edit_incident(iid, name="Explain echo renamed")
    wait_for(lambda: tools.snow_record(sys_id)["short_description"] == "Explain echo renamed",
             30, "the write")  # fmt: skip
    having(stack, iid, lambda e: e["kind"] == "dropped" and e["sides"] == [SNOW], "the echo")

    data = explain(stack, number)  # by the number people know
    assert (data["incident"], data["ref"], data["resolved_by"]) == (iid, number, "reference")
    assert data["field"] == "title"
    answer = sides(data)
    assert list(answer) == [P, SNOW] and answer[P]["platform"] and not answer[SNOW]["platform"]
    snow = answer[SNOW]
    assert snow["record"] == sys_id and snow["value"] == "Explain echo renamed"
    assert snow["sentence"].startswith("Written by us at ")
    assert f"from {P}'s edit (delivery " in snow["sentence"]
    assert f"record {sys_id}, HTTP 200)" in snow["sentence"]
    assert re.search(r"(an echo of our own write at .* was dropped|an echo of our write\) was "
                     r"dropped)", snow["sentence"]), snow["sentence"]  # fmt: skip
    timeline = im(stack, "incident", "timeline", iid)["entries"]
    ids = {e["id"]: e for e in timeline}
    kinds = {ids[i]["kind"] for i in snow["entries"]}
    assert {"written", "dropped"} <= kinds and snow["at"] == ids[snow["entries"][-1]]["at"]
    platform = answer[P]
    assert platform["record"] == iid and platform["value"] == "Explain echo renamed"
    assert platform["sentence"].startswith(f"Edited on {P} at ")

    # The same by the alias the tool uses, and as people read it: one line per side.
    assert explain(stack, sys_id, "short_description")["sides"] == data["sides"]
    shown = table(stack, "incident", "explain", number, "--field", "title")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{P} (platform) = 'Explain echo renamed': Edited on {P} at ")
    assert lines[1].startswith(f"{SNOW} = 'Explain echo renamed': Written by us at ")

    # A custom field nothing decided about: no decision recorded, for each side.
    custom = sides(explain(stack, iid, "custom.Never Set"))
    assert {s["sentence"] for s in custom.values()} == {
        "No decision about this field recorded (within the timeline's retention)."
    }


def test_a_tool_edit_of_a_field_the_platform_owns_is_not_taken_in(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    configure(stack, "field-ownership", "set", SNOW, "title", "--owner", "platform")
    try:
        iid, record = linked(tools, "Explain owned")
        tools.edit_snow(record["sys_id"], short_description="a title the platform owns")
        skip = having(stack, iid, lambda e: e["kind"] == "skipped" and e["rule"] == "ownership",
                      "the ownership skip")  # fmt: skip
        # the arbiter records whose change it was: the tool's own edit, not taken in
        assert skip["detail"]["source"] == SNOW
        answer = sides(explain(stack, record["sys_id"]))
    finally:
        configure(stack, "field-ownership", "unset", SNOW, "title")
    platform, snow = answer[P], answer[SNOW]
    assert platform["value"] == "Explain owned" and snow["value"] == "a title the platform owns"
    assert re.search(rf"{SNOW}'s later edit at \S+ UTC was not taken in because the platform "
                     r"owns the field\.$", platform["sentence"]), platform["sentence"]  # fmt: skip
    assert skip["id"] in platform["entries"]
    assert snow["sentence"].startswith(f"Edited on {SNOW} at "), snow["sentence"]
    assert snow["sentence"].endswith(
        "; that edit was not taken in because the platform owns the field."
    )


def test_one_way_integrations_either_way(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    iid, record = linked(tools, "Explain inbound")  # linked both ways, then one way
    before = tools.snow_record(record["sys_id"])["short_description"]
    configure(stack, "configure", SNOW, "--direction", "inbound")  # tool→platform only
    try:
        tools.edit_incident(iid, name="Explain inbound renamed")
        having(stack, iid, lambda e: e["kind"] == "skipped" and e["rule"] == "direction",
               "the direction skip")  # fmt: skip
        answer = sides(explain(stack, iid))
    finally:
        configure(stack, "configure", SNOW, "--direction", "bidirectional")
    snow = answer[SNOW]
    assert snow["value"] == before
    written = rf"{P}'s change at \S+ UTC was not written here because the integration's direction"
    assert re.search(rf"{written} is tool→platform only", snow["sentence"]), snow["sentence"]
    assert answer[P]["sentence"].startswith(f"Edited on {P} at ")

    iid, record = linked(tools, "Explain outbound")
    configure(stack, "configure", SNOW, "--direction", "outbound")  # platform→tool only
    try:
        # The ingress ignores an outbound-only integration's webhooks: no entry is recorded,
        # and the explanation says the direction now.
        tools.edit_snow(record["sys_id"], short_description="never taken in")
        tools.quiesce()
        answer = sides(explain(stack, iid))
    finally:
        configure(stack, "configure", SNOW, "--direction", "bidirectional")
    clause = "not taken in because the integration's direction is platform→tool only"
    assert answer[P]["sentence"].endswith(f"; {SNOW}'s edits are {clause}."), answer[P]
    assert answer[P]["value"] == "Explain outbound"
    assert answer[SNOW]["sentence"].endswith(f"; its edits are {clause}."), answer[SNOW]


def test_a_conflict_parked_then_resolved_by_the_operator(env: tuple[Stack, Tools]) -> None:
    stack, tools = env
    configure(stack, "configure", SNOW, "--conflict-strategy=manual-review")
    try:
        iid, record = linked(tools, "Explain conflict")
        tools.edit_snow(record["sys_id"], short_description="from ServiceNow")
        tools.edit_incident(iid, name="from incident.io")
        parked = having(stack, iid, lambda e: e["kind"] == "conflict_parked", "the parked field")
        conflict = parked["detail"]["conflict"]
        answer = sides(explain(stack, iid))
        for side in (P, SNOW):
            assert (
                f"a conflict at {_at(parked)} ({conflict}) is parked for review"
                in (answer[side]["sentence"])
            ), answer[side]
            assert parked["id"] in answer[side]["entries"]
        assert answer[P]["value"] == "from incident.io"
        assert answer[SNOW]["value"] == "from ServiceNow"

        im(stack, "conflict", "resolve", conflict, "--use-external")
        resolved = having(stack, iid, lambda e: e["kind"] == "conflict_resolved", "resolution")
        answer = until(stack, iid, lambda a: a[P]["sentence"].startswith("Written by us"),
                       "the resolution's write")  # fmt: skip
    finally:
        configure(stack, "configure", SNOW, "--conflict-strategy=last-write-wins")
    resolver = resolved["detail"]["resolver"]
    said = (
        f"a conflict at {_at(parked)} ({conflict}) was parked, then resolved at {_at(resolved)} "
        f"by {resolver} choosing {SNOW}'s value (use-external)"
    )
    platform = answer[P]
    assert platform["sentence"].startswith("Written by us at ")
    assert f"with {SNOW}'s value" in platform["sentence"] and said in platform["sentence"]
    assert resolved["id"] in platform["entries"] and parked["id"] in platform["entries"]
    assert said in answer[SNOW]["sentence"]
    wait_for(lambda: tools.incident(iid)["name"] == "from ServiceNow", 30, "the platform")


def _at(entry: dict[str, Any]) -> str:
    """An entry's time as a sentence says it today (HH:MM:SS UTC)."""
    return str(entry["at"])[11:19] + " UTC"


def test_an_unknown_field_or_reference_and_the_timelines_policy(
    env: tuple[Stack, Tools],
) -> None:
    stack, tools = env
    iid, _ = linked(tools, "Explain refused")
    url = f"{stack.url('control')}/api/v1/tenants/default/incidents/{iid}/explain"
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    refused = httpx.get(url, params={"field": "colour"}, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid" and "'colour'" in refused.json()["reason"]
    assert httpx.get(url, headers=admin).status_code == 422  # the field is required
    assert run_im(stack, "incident", "explain", iid, "--field", "colour")[0] == 2
    assert run_im(stack, "incident", "explain", "INC9999999", "--field", "title")[0] == 3
    gone = httpx.get(url.replace(iid, "INC9999999"), params={"field": "title"}, headers=admin)
    assert gone.status_code == 404 and "INC9999999" in gone.json()["reason"]

    def token(role: str) -> str:
        made = im(stack, "token", "create", "--name", f"explain-{role}", "--role", role,
                  "--scope", "tenant:default")  # fmt: skip
        return str(made["token"])

    def ask(role: str) -> httpx.Response:
        bearer = {"Authorization": f"Bearer {token(role)}"}
        return httpx.get(url, params={"field": "title"}, headers=bearer)

    viewer = ask("viewer")
    assert viewer.status_code == 403 and "incident.timeline" in viewer.json()["reason"]
    manager = ask("integration.manager")
    assert manager.status_code == 200 and manager.json()["incident"] == iid
