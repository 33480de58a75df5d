"""An incident commander's Timeline page (real control service and redis-server): the
timeline of an incident they lead shows; for somebody else's incident the page says, with a
403, that they can read only the incidents they lead, not a bare error."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from incident_sync.syncstate import keys
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.timeline import Entry, Kind, Timeline
from tests.integration.console.signin import sign_in
from tests.integration.control.authz_setups import PLATFORM
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

TENANT = "tlc"
C = f"/console/t/{TENANT}"


async def _incidents(redis_url: str) -> None:
    """INC-MINE led by "ic-tlc", INC-THEIRS by someone else, a timeline entry each, as the
    pipeline leaves them."""
    redis = connect(redis_url)
    for incident, lead in (("INC-MINE", "ic-tlc"), ("INC-THEIRS", "someone-else")):
        await redis.hset(keys.state(TENANT, "incidentio", incident), "assignee", lead)
        await Timeline(redis).add(TENANT, incident, Entry(Kind.RECEIVED, ("incidentio",)))
    await redis.aclose()


def test_a_commander_is_told_they_see_only_the_incidents_they_lead(
    control: ControlService,
) -> None:
    with control.client(control.admin) as admin:
        admin.put(f"/api/v1/tenants/{TENANT}/platform", json=PLATFORM).raise_for_status()
    asyncio.run(_incidents(control.redis_url))
    commander = control.token("incident_commander", name="ic-tlc", tenants=[TENANT])
    with httpx.Client(base_url=control.url, timeout=10.0) as b:
        sign_in(b, commander)
        form = b.get(f"{C}/timeline")
        assert form.status_code == 200 and 'href="/console/t/tlc/timeline"' in form.text
        mine = b.get(f"{C}/timeline", params={"ref": "INC-MINE"})
        assert mine.status_code == 200 and 'id="timeline"' in mine.text
        theirs = b.get(f"{C}/timeline", params={"ref": "INC-THEIRS"})
        assert theirs.status_code == 403
        assert 'id="refused"' in theirs.text
        assert "only the timelines of the incidents you lead" in theirs.text
        assert "INC-THEIRS" in theirs.text and 'id="timeline"' not in theirs.text
        assert 'name="ref"' in theirs.text  # the form stays: another reference can be tried
