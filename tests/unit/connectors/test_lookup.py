"""`connectors.lookup.look_up`: what a tool's answer to one read says about a record a manual
sync names (found, missing, the tool cannot be asked now, the tool refuses)."""

from __future__ import annotations

import pytest

from incident_sync.connectors.base import RecordNotFound, RecordState, ToolError
from incident_sync.connectors.lookup import Found, look_up
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.ingress.helpers import HmacConnector


class Reading(HmacConnector):
    """Its one read answers with what the test sets."""

    answer: BaseException | None = None

    async def fetch(self, external_id: str) -> RecordState:
        if self.answer is not None:
            raise self.answer
        return RecordState(external_id)


@pytest.mark.parametrize(
    ("answer", "found", "retry_after"),
    [
        (None, Found.FOUND, None),
        (RecordNotFound("HTTP 404"), Found.MISSING, None),
        (ToolError("HTTP 503", status=503, retryable=True, retry_after_s=7), Found.UNAVAILABLE, 7),
        (ToolError("HTTP 401: bad token", status=401, retryable=False), Found.REFUSED, None),
    ],
)
async def test_a_read_sorts_the_tools_answer(
    answer: BaseException | None, found: Found, retry_after: float | None
) -> None:
    connector = Reading(IntegrationConfig(id="prod-x", type="incidentio", base_url="https://x"))
    connector.answer = answer
    lookup = await look_up(connector, "R1")
    assert (lookup.found, lookup.retry_after_s) == (found, retry_after)
    if found is not Found.FOUND:
        assert "prod-x" in lookup.reason and "'R1'" in lookup.reason
