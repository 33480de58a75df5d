"""`mapping_file` through the real control API: only the name of a mapping file inside the
service's mappings directory (MAPPINGS_DIR) is accepted, checked when it is written (422
naming the field); a file gone since then makes the connection test fail, not answer 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from redis import Redis

from incident_sync.syncstate import keys
from tests.integration.control.service import ControlService

pytestmark = pytest.mark.integration

T = "/api/v1/tenants/maps"


@pytest.fixture(scope="module")
def admin(control: ControlService) -> Iterator[httpx.Client]:
    with control.client(control.admin) as client:
        yield client


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "servicenow",
        "base_url": "http://127.0.0.1:9",
        "username": "sync",
        **extra,
    }


def refused(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid"
    reason = str(answer["reason"])
    assert "mapping_file" in reason
    return reason


@pytest.mark.parametrize(
    "path",
    ["../../../etc/passwd", "/etc/passwd", "mappings/field-mappings.json", "..", ".hidden"],
)
def test_a_path_is_refused(admin: httpx.Client, path: str) -> None:
    refused(admin.post(f"{T}/integrations", json=body("snow-path", mapping_file=path)))
    assert admin.get(f"{T}/integrations/snow-path").status_code == 404


def test_a_name_must_be_a_mapping_file_in_the_directory(
    control: ControlService, admin: httpx.Client
) -> None:
    reason = refused(
        admin.post(f"{T}/integrations", json=body("snow-name", mapping_file="missing.json"))
    )
    assert "no mapping file 'missing.json'" in reason
    assert str(control.mappings) not in reason  # no server path in the answer
    (control.mappings / "sides.json").write_bytes(b'{"platform": {"id": "incidentio"}}')
    (control.mappings / "broken.json").write_bytes(b"{not json")
    for name in ("sides.json", "broken.json"):
        refused(admin.post(f"{T}/integrations", json=body("snow-name", mapping_file=name)))
    assert admin.get(f"{T}/integrations/snow-name").status_code == 404

    created = admin.post(
        f"{T}/integrations", json=body("snow-name", mapping_file="field-mappings.json")
    )
    assert created.status_code == 201, created.text
    # A change to a bad one is refused as well, by PATCH and by PUT, and changes nothing.
    refused(admin.patch(f"{T}/integrations/snow-name", json={"mapping_file": "broken.json"}))
    put = {k: v for k, v in body("x", mapping_file="../field-mappings.json").items() if k != "name"}
    refused(admin.put(f"{T}/integrations/snow-name", json=put))
    stored = admin.get(f"{T}/integrations/snow-name").json()
    assert stored["mapping_file"] == "field-mappings.json"
    assert stored["revision"] == created.json()["revision"]


def test_a_mapping_file_removed_later_fails_the_connection_test(
    control: ControlService, admin: httpx.Client
) -> None:
    (control.mappings / "soon-gone.json").write_bytes(b'{"features": {"sync_status": true}}')
    created = admin.post(f"{T}/integrations", json=body("snow-gone", mapping_file="soon-gone.json"))
    assert created.status_code == 201, created.text
    (control.mappings / "soon-gone.json").unlink()
    # Other changes are not blocked by it (only a mapping_file written is checked).
    assert admin.post(f"{T}/integrations/snow-gone/pause").status_code == 200
    tested = admin.post(f"{T}/integrations/snow-gone/test")
    assert tested.status_code == 200, tested.text
    result = tested.json()
    assert result["ok"] is False
    assert "no mapping file 'soon-gone.json'" in result["error"]


def test_a_record_stored_with_a_path_is_shown_and_must_be_corrected(
    control: ControlService, admin: httpx.Client
) -> None:
    """A record written before the rule (a path in `mapping_file`) still reads, and a write
    that keeps the path is refused until it names a file."""
    created = admin.post(f"{T}/integrations", json=body("snow-old"))
    assert created.status_code == 201, created.text
    redis = Redis.from_url(control.redis_url)
    key = keys.integrations("maps")
    stored = orjson.loads(redis.hget(key, "snow-old") or b"{}")
    stored["config"]["mapping_file"] = "/etc/incident-sync/config/field-mappings.json"
    redis.hset(key, "snow-old", orjson.dumps(stored))
    redis.close()
    shown = admin.get(f"{T}/integrations/snow-old")
    assert shown.status_code == 200, shown.text
    assert shown.json()["mapping_file"] == "/etc/incident-sync/config/field-mappings.json"
    assert admin.get(f"{T}/integrations").status_code == 200
    refused(admin.patch(f"{T}/integrations/snow-old", json={"direction": "outbound"}))
    fixed = admin.patch(f"{T}/integrations/snow-old", json={"mapping_file": "field-mappings.json"})
    assert fixed.status_code == 200, fixed.text
