"""The console in a real headless Chromium against the real stack: broker, redis-server, the
sandboxes over HTTP, the pipeline and the control service. A person signs in with an API
token, resolves a parked conflict and sees both sides change, retries a dead-lettered write
once the tool's fault is cleared, reads an incident's timeline by the number ServiceNow gave
it; a viewer gets no write control. The main pages are saved as screenshots
(`make console-screenshots` saves them to docs/console)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from incident_sync.devstack.stack import Stack
from incident_sync.devstack.tools import Tools, wait_for
from incident_sync.syncmodel import topics
from tests.integration.conftest import im, start_stack
from tests.integration.console.browser import (
    chromium,
    press,
    shoot,
    sign_in,
)
from tests.integration.console.browser import sign_out as leave
from tests.integration.test_conflicts_e2e import configure, conflicts_of, edit_both, linked_ticket
from tests.integration.test_quarantine import produce
from tests.integration.test_reconcile_e2e import behind_the_back

# No skip without a browser: scripts/bootstrap.sh installs chromium and chromium-driver.
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Stack, Tools]]:
    yield from start_stack()


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    yield from chromium()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture
def admin(env: tuple[Stack, Tools], driver: WebDriver) -> Iterator[WebDriver]:
    """The browser, signed in as the stack's administrator (signed out after the test)."""
    stack, _ = env
    sign_in(driver, stack.url("control"), stack.admin_token)
    yield driver
    leave(driver)


def buttons(driver: WebDriver) -> list[str]:
    return [b.text for b in driver.find_elements(By.TAG_NAME, "button")]


def tenant_of(stack: Stack) -> str:
    with httpx.Client(base_url=stack.url("control"), timeout=10) as c:
        c.headers["Authorization"] = f"Bearer {stack.admin_token}"
        found = [t for t in ("default",) if c.get(f"/api/v1/tenants/{t}/status").is_success]
    return found[0]


def test_sign_in_lands_on_the_integrations_and_their_health(
    env: tuple[Stack, Tools], admin: WebDriver, shots: Path
) -> None:
    stack, _ = env
    tenant = tenant_of(stack)
    # One tenant: the console goes straight to its integrations.
    assert admin.current_url.endswith(f"/console/t/{tenant}/integrations")
    row = admin.find_element(By.XPATH, "//tbody/tr[th/a[text()='prod-snow']]")
    assert "servicenow" in row.text and "running" in row.text
    shoot(admin, "integrations", shots)
    press(admin, row.find_element(By.LINK_TEXT, "prod-snow"))
    assert admin.find_element(By.TAG_NAME, "h1").text.startswith("prod-snow")
    assert {"Pause", "Test the connection"} <= set(buttons(admin))
    press(admin, admin.find_element(By.XPATH, "//button[text()='Test the connection']"))
    assert "Connection test: ok" in admin.find_element(By.ID, "test-result").text
    config = admin.find_element(By.ID, "config").text
    assert '"password": "set"' in config or '"password": "unset"' in config
    for secret in stack.secret_values():
        assert secret not in admin.page_source
    shoot(admin, "integration", shots)


def test_a_parked_conflict_is_resolved_from_the_page_and_both_sides_change(
    env: tuple[Stack, Tools], admin: WebDriver, shots: Path
) -> None:
    stack, tools = env
    configure(stack, conflict_strategy="manual-review")
    try:
        iid, sys_id = linked_ticket(tools, "Console conflict")
        edit_both(tools, iid, sys_id, "Console from incident.io", "Console from ServiceNow")
        (pending,) = wait_for(lambda: conflicts_of(stack, iid, "pending"), 30, "the conflict")
        tools.quiesce()
        press(admin, admin.find_element(By.LINK_TEXT, "Conflicts"))
        section = admin.find_element(By.ID, pending["id"])
        values = {
            v.get_attribute("data-side"): v.text
            for v in section.find_elements(By.CSS_SELECTOR, ".value")
        }
        assert values == {
            "platform": "Console from incident.io",
            "external": "Console from ServiceNow",
        }
        shoot(admin, "conflicts", shots)
        press(admin, section.find_element(By.CSS_SELECTOR, "button[value=use-external]"))
        # Back on the list: no longer pending.
        assert not admin.find_elements(By.ID, pending["id"])
        wait_for(
            lambda: tools.incident(iid)["name"] == "Console from ServiceNow", 30, "the platform"
        )
        tools.quiesce()
        assert tools.snow_record(sys_id)["short_description"] == "Console from ServiceNow"
        (settled,) = conflicts_of(stack, iid)
        assert (settled["status"], settled["resolution"]) == ("resolved", "use-external")
        assert settled["resolver"] == "bootstrap"
    finally:
        configure(stack, conflict_strategy="last-write-wins")


def test_a_dead_lettered_write_is_retried_from_the_page_once_the_fault_is_cleared(
    env: tuple[Stack, Tools], admin: WebDriver, shots: Path
) -> None:
    stack, tools = env
    iid, sys_id = linked_ticket(tools, "Console DLQ")
    tools.api_faults("servicenow", fail_status=400, fail_count=1, path_contains=sys_id)
    tools.edit_incident(iid, name="Console DLQ renamed")

    def dead() -> list[dict[str, Any]]:
        entries = im(stack, "integration", "dlq", "prod-snow")["items"]
        return [e for e in entries if e["command"]["platform_incident_id"] == iid]

    (entry,) = wait_for(dead, 30, "the DLQ entry")
    tools.api_faults("servicenow")  # the fault is cleared
    assert tools.snow_record(sys_id)["short_description"] == "Console DLQ"
    admin.get(f"{stack.url('control')}/console/t/{entry['tenant']}/integrations/prod-snow/dlq")
    row = admin.find_element(By.XPATH, f"//tbody/tr[th[text()='{entry['id']}']]")
    assert "rejected" in row.text and "injected fault" in row.text
    # The retry-all's dry run lists it and changes nothing.
    press(admin, admin.find_element(By.XPATH, "//button[text()='Retry all matching']"))
    assert entry["id"] in admin.find_element(By.ID, "outcome").text
    assert "Would retry" in admin.find_element(By.ID, "outcome").text
    shoot(admin, "dlq", shots)
    row = admin.find_element(By.XPATH, f"//tbody/tr[th[text()='{entry['id']}']]")
    press(admin, row.find_element(By.XPATH, ".//button[text()='Retry']"))
    assert not admin.find_elements(By.XPATH, f"//tbody/tr[th[text()='{entry['id']}']]")
    wait_for(
        lambda: tools.snow_record(sys_id)["short_description"] == "Console DLQ renamed",
        30,
        "the retried write",
    )
    assert dead() == []


def test_an_incident_timeline_is_read_by_pasting_its_servicenow_number(
    env: tuple[Stack, Tools], admin: WebDriver, shots: Path
) -> None:
    _, tools = env
    incident = tools.declare("Console timeline", "summary")
    (record,) = wait_for(lambda: tools.snow_records_for(incident["id"]), 30, "the ticket")
    tools.quiesce()
    press(admin, admin.find_element(By.LINK_TEXT, "Timeline"))
    field = admin.find_element(By.ID, "ref")
    field.send_keys(record["number"])
    press(admin, admin.find_element(By.XPATH, "//button[text()='Show']"))
    heading = admin.find_element(By.CSS_SELECTOR, "main h2").text
    assert incident["id"] in heading and "reference" in heading
    kinds = [
        td.text for td in admin.find_elements(By.CSS_SELECTOR, "#timeline tbody td:nth-child(3)")
    ]
    assert kinds[0] == "received" and "created" in kinds and "linked" in kinds
    shoot(admin, "timeline", shots)


def test_an_undecodable_record_is_seen_in_the_quarantine_and_discarded(
    env: tuple[Stack, Tools], admin: WebDriver, shots: Path
) -> None:
    stack, _ = env
    garbage = b'{"delivery_id": "d-console", "kind": "no such kind"'
    produce(
        stack,
        topics.OBSERVATIONS,
        garbage,
        b"default:prod-snow:INC0042",
        [("integration-id", b"prod-snow")],
    )

    def held() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = im(stack, "quarantine", "list", "--stage", "gate")["items"]
        return items

    (entry,) = wait_for(held, 30, "the quarantined record")
    press(admin, admin.find_element(By.LINK_TEXT, "Quarantine"))
    row = admin.find_element(By.XPATH, f"//tbody/tr[th[text()='{entry['id']}']]")
    assert "gate" in row.text and "prod-snow" in row.text and "JSONDecodeError" in row.text
    shoot(admin, "quarantine", shots)
    press(admin, row.find_element(By.XPATH, ".//button[text()='Discard']"))
    assert not admin.find_elements(By.XPATH, f"//tbody/tr[th[text()='{entry['id']}']]")
    assert held() == []


def test_a_dry_run_reconcile_started_from_the_page_shows_its_discrepancy(
    env: tuple[Stack, Tools], admin: WebDriver, shots: Path
) -> None:
    stack, tools = env
    iid, sys_id = linked_ticket(tools, "Console drift")
    behind_the_back(
        tools,
        "servicenow",
        lambda: tools.edit_snow(sys_id, short_description="Console drift, changed unseen"),
    )
    base = f"{stack.url('control')}/console/t/{tenant_of(stack)}/integrations/prod-snow"
    admin.get(f"{base}/reconcile")
    press(admin, admin.find_element(By.XPATH, "//button[text()='Start a dry run']"))

    def finished() -> str | None:
        admin.get(f"{base}/reconcile")
        runs = admin.find_elements(By.CSS_SELECTOR, "section.run")
        heading = runs[0].find_element(By.TAG_NAME, "h2").text if runs else ""
        return heading if "succeeded" in heading or "failed" in heading else None

    assert "succeeded" in wait_for(finished, 60, "the run")
    run = admin.find_elements(By.CSS_SELECTOR, "section.run")[0]
    rows = [r.text for r in run.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(iid in r and "Console drift, changed unseen" in r for r in rows), rows
    shoot(admin, "reconcile", shots)
    # a dry run: nothing healed
    assert tools.incident(iid)["name"] == "Console drift"


def test_a_viewer_sees_no_write_control(env: tuple[Stack, Tools], driver: WebDriver) -> None:
    stack, _ = env
    tenant = tenant_of(stack)
    with httpx.Client(base_url=stack.url("control"), timeout=10) as c:
        made = c.post(
            "/api/v1/tokens",
            headers={"Authorization": f"Bearer {stack.admin_token}"},
            json={"name": "console-viewer", "role": "viewer", "scope": {"tenants": [tenant]}},
        )
        made.raise_for_status()
    sign_in(driver, stack.url("control"), made.json()["token"])
    try:
        assert driver.find_element(By.LINK_TEXT, "prod-snow")
        assert buttons(driver) == ["Sign out"]
        press(driver, driver.find_element(By.LINK_TEXT, "prod-snow"))
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("prod-snow")
        assert buttons(driver) == ["Sign out"]
        assert not driver.find_elements(By.ID, "config")
    finally:
        leave(driver)
