"""Property-based run of every operation in /api/v1/openapi.json (schemathesis generates the
requests from the document, hypothesis drives them) against the real service as an admin:
no answer is a 5xx, every 4xx carries `{"error": ..., "reason": ...}`, and every answer
conforms to the status codes and schemas the document declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.control.service import ControlService, start_control

pytestmark = pytest.mark.integration

EXAMPLES = 8
# Half the cases address an integration that exists, so the handlers behind the lookups run.
KNOWN = {"tenant": "acme", "name": "fuzz-a", "field": "assigned_to"}


def aim(pair: tuple[Any, bool]) -> Any:
    case, known = pair
    if known and case.path_parameters:
        for key in list(case.path_parameters):
            if key in KNOWN:
                case.path_parameters[key] = KNOWN[key]
    return case


def ensure_known(service: ControlService) -> None:
    with service.client(service.admin) as c:
        c.put(
            "/api/v1/tenants/acme/integrations/fuzz-a",
            json={"type": "servicenow", "base_url": "http://127.0.0.1:9", "username": "u"},
        ).raise_for_status()


@pytest.fixture(scope="module")
def fuzzed(redis_port: int) -> Iterator[ControlService]:
    """A service of its own (its own Redis db): the run creates and deletes at random."""
    service = start_control(redis_port, 6)
    try:
        yield service
    finally:
        service.stop()


def fuzz(operation: Any, service: ControlService, headers: dict[str, str]) -> set[int]:
    url = service.url
    statuses: set[int] = set()
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=st.tuples(operation.as_strategy(), st.booleans()).map(aim))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        ensure_known(service)
        response = case.call_and_validate(
            base_url=url,
            headers=headers,
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
        )
        statuses.add(response.status_code)
        if 400 <= response.status_code < 500:
            body = response.json()
            assert set(body) == {"error", "reason"}, (label, body)
            assert body["error"] and body["reason"]

    run()
    return statuses


def test_no_5xx_and_json_errors_for_generated_requests(fuzzed: ControlService) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed.admin}"}
    operations: list[Any] = [cast(Any, r).ok() for r in schema.get_all_operations()]
    assert len(operations) >= 25
    statuses = {f"{o.method.upper()} {o.path}": fuzz(o, fuzzed, headers) for o in operations}
    # Generated requests reach the handlers, not only the validators.
    assert sum(1 for s in statuses.values() if any(code < 300 for code in s)) >= 24, statuses
