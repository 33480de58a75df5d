"""The console's quarantine and reconcile pages over HTTP against the real control service
(real redis-server, real broker for the retries): what the API lists is what the page shows,
and each form does what the API route does."""

from __future__ import annotations

import re

import httpx
import pytest

from incident_sync.syncstate.quarantine import Stage
from tests.integration.console.signin import sign_in
from tests.integration.control import test_quarantine_api as qapi
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = qapi.TENANT  # the entries `qapi.entry` makes are this tenant's
API = f"/api/v1/tenants/{TENANT}"
C = f"/console/t/{TENANT}"


def browser(control: ControlService) -> httpx.Client:
    return httpx.Client(base_url=control.url, timeout=10.0)


def test_the_quarantine_page_lists_dry_runs_retries_and_discards(control: ControlService) -> None:
    with control.client(control.admin) as admin:
        r = admin.put(
            f"{API}/integrations/snow-q",
            json={"type": "servicenow", "base_url": "http://127.0.0.1:9"},
        )
        assert r.status_code in (200, 201), r.text
        first, second = qapi.entry(1, Stage.GATE, "snow-q"), qapi.entry(2, Stage.GATE, "snow-q")
        qapi.save(control, first, second)
        with browser(control) as b:
            csrf = sign_in(b, control.admin)
            page = b.get(f"{C}/quarantine")
            assert page.status_code == 200
            assert first.id in page.text and second.id in page.text
            assert re.search(r'id="depth">2<', page.text)
            dry = b.post(f"{C}/quarantine/retry", data={"csrf": csrf, "dry_run": "on"})
            assert dry.status_code == 200 and "Would retry 2" in dry.text
            assert admin.get(Q := f"{API}/quarantine").json()["depth"] == 2
            gone = b.post(f"{C}/quarantine/{first.id}/discard", data={"csrf": csrf})
            assert gone.status_code == 303
            assert [e["id"] for e in admin.get(Q).json()["items"]] == [second.id]
            again = b.post(f"{C}/quarantine/{second.id}/retry", data={"csrf": csrf})
            assert again.status_code == 303, again.text
            assert admin.get(Q).json()["depth"] == 0
            assert qapi.published(control, first.retry_topic, second.id)
            # No CSRF token: nothing happens.
            qapi.save(control, first)
            assert b.post(f"{C}/quarantine/{first.id}/discard", data={}).status_code == 403
            assert admin.get(Q).json()["depth"] == 1
    viewer = control.token("viewer", name="console-q-viewer", tenants=[TENANT])
    with browser(control) as b:
        sign_in(b, viewer)
        assert b.get(f"{C}/quarantine").status_code == 403


def test_the_reconcile_page_starts_a_dry_run_and_lists_the_runs(control: ControlService) -> None:
    with control.client(control.admin) as admin:
        admin.put(
            f"{API}/integrations/snow-r",
            json={"type": "servicenow", "base_url": "http://127.0.0.1:9"},
        ).raise_for_status()
        with browser(control) as b:
            csrf = sign_in(b, control.admin)
            empty = b.get(f"{C}/integrations/snow-r/reconcile")
            assert empty.status_code == 200 and "No run yet" in empty.text
            assert "Start a dry run" in empty.text and "Start an auto-heal run" in empty.text
            started = b.post(
                f"{C}/integrations/snow-r/reconcile", data={"csrf": csrf, "mode": "dry-run"}
            )
            assert started.status_code == 303
            (run,) = admin.get(f"{API}/integrations/snow-r/reconcile/runs").json()["items"]
            assert (run["mode"], run["requested_by"]) == ("dry-run", "bootstrap")
            shown = b.get(f"{C}/integrations/snow-r/reconcile").text
            assert run["id"] in shown and "dry-run" in shown
            bad = b.post(f"{C}/integrations/snow-r/reconcile", data={"csrf": csrf, "mode": "x"})
            assert bad.status_code == 422
