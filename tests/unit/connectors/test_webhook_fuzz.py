"""Every connector's webhook parser, fed real deliveries with random parts replaced (any JSON
value where an object, a string or a list was) or removed: it returns events that encode and
whose ids follow the id rule (`syncmodel.ids`), or refuses with a reason the ingress turns
into a 400/422. Anything else would be a 500. A string replaced by a list or an object is
refused naming the field, or ignored; it never reads as a cleared or another value.

Seeds: the vendors' recorded deliveries (tests/vendor/*/samples) and,
where no recording exists (the ServiceNow business rule, the Datadog template), the payload
our docs tell an admin to configure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.capabilities import WebhookSource
from incident_sync.connectors.datadog import webhook as datadog_webhook
from incident_sync.connectors.jira import fields as jira_fields
from incident_sync.connectors.registry import make_connector
from incident_sync.syncmodel import codec, ids
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.events import ChangeEvent
from tests.unit.connectors.datadog.test_connector import config as datadog_config
from tests.unit.connectors.incidentio.helpers import config as incidentio_config
from tests.unit.connectors.jira.helpers import config as jira_config
from tests.unit.connectors.pagerduty.helpers import config as pagerduty_config
from tests.unit.connectors.servicenow.helpers import config as servicenow_config
from tests.unit.connectors.servicenow.test_webhook import payload as servicenow_payload
from tests.vendorfiles import PROTOCOLS

SAMPLES = PROTOCOLS

JSON = Any
NodePath = tuple[str | int, ...]

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _recorded(tool: str, *names: str) -> list[JSON]:
    folder = SAMPLES / tool / "samples"
    return [orjson.loads((folder / n).read_bytes()) for n in names]


def _seeds() -> list[tuple[str, IntegrationConfig, dict[str, str], JSON]]:
    svix = {"webhook-id": "msg_2Kf1", "webhook-timestamp": "1700000000", "webhook-signature": ""}
    out: list[tuple[str, IntegrationConfig, dict[str, str], JSON]] = []
    for doc in _recorded(
        "incidentio",
        "webhook_public_incident.incident_created_v2.json",
        "webhook_public_incident.incident_updated_v2.json",
        "webhook_public_incident.incident_status_updated_v2.json",
        "webhook_private_incident.incident_updated_v2.json",
    ):
        out.append(("incidentio", incidentio_config(), svix, doc))
    jira = {"X-Atlassian-Webhook-Identifier": "4021"}
    for doc in _recorded(
        "jira",
        "webhook_jira_issue_created.json",
        "webhook_jira_issue_updated__status_change.json",
        "webhook_jira_issue_updated__priority_change.json",
        "webhook_comment_created.json",
        "webhook_jira_issue_deleted.json",
    ):
        out.append(("jira", jira_config(), jira, doc))
    pagerduty = {"X-Webhook-Id": "5ac64822-4adc-4fda-ade0-410becf0de4f"}
    for doc in _recorded("pagerduty", "webhook_v3_incident.priority_updated.json"):
        out.append(("pagerduty", pagerduty_config(), pagerduty, doc))
    for kind in ("incident.triggered", "incident.annotated", "incident.resolved"):
        out.append(("pagerduty", pagerduty_config(), pagerduty, _pagerduty(kind)))
    snow = {"X-Incident-Sync-Delivery": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    out.append(("servicenow", servicenow_config(), snow, servicenow_payload()))
    datadog = {"X-Incident-Sync-Token": "x"}
    out.append(("datadog", datadog_config(), datadog, _datadog()))
    return out


def _pagerduty(kind: str) -> JSON:
    data: dict[str, Any] = {
        "id": "Q1P3AHC3KLGSEL",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/Q1P3AHC3KLGSEL",
        "number": 2,
        "status": "resolved" if kind == "incident.resolved" else "triggered",
        "incident_key": "01FDAG4SAP5TYPT98WGR2N7W91",
        "title": "Checkout latency",
        "urgency": "high",
        "priority": {"id": "PSO75BM", "type": "priority_reference", "summary": "P1"},
        "assignees": [{"id": "PTUXL6G", "type": "user_reference", "summary": "Lisa"}],
        "escalation_policy": {"id": "PUS0KTE", "type": "escalation_policy_reference"},
    }
    if kind == "incident.annotated":
        data = {
            "incident": {"id": "Q1P3AHC3KLGSEL", "type": "incident_reference"},
            "id": "PWL7QXS",
            "content": "Rolled back",
            "type": "incident_note",
        }
    return {
        "event": {
            "id": "01DEN4HPBQAIRV5BHMWFYCABIN",
            "event_type": kind,
            "resource_type": "incident",
            "occurred_at": "2024-05-06T07:08:09.000Z",
            "agent": {"id": "PTUXL6G", "type": "user_reference"},
            "client": None,
            "data": data,
        }
    }


def _datadog() -> JSON:
    return {
        "event_id": "7439231251528127496",
        "event_type": "incident_update",
        "incident_id": "00000000-0000-0000-0000-000000000001",
        "incident_public_id": "42",
        "title": "Checkout latency",
        "last_updated": "1700000000000",
    }


SEEDS = _seeds()


def _paths(doc: JSON, here: NodePath = ()) -> Iterator[NodePath]:
    yield here
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*here, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _paths(value, (*here, i))


def _set(doc: JSON, path: NodePath, value: JSON, *, delete: bool) -> JSON:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, seed: JSON) -> JSON:
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        delete = bool(path) and draw(st.booleans())
        doc = _set(doc, path, None if delete else draw(json_values), delete=delete)
    return doc


def _connector(config: IntegrationConfig) -> WebhookSource:
    # Never used for a request: parse only.
    connector = make_connector(config)
    assert isinstance(connector, WebhookSource)
    return connector


def check(connector: WebhookSource, headers: Mapping[str, str], body: bytes) -> None:
    """Events that encode, or a refusal the ingress answers 400 / 422 with its reason; any
    other exception fails the test (the ingress would answer 500)."""
    try:
        events = connector.parse(httpx.Headers(headers), body)
    except WebhookRejected as exc:
        assert exc.status in (400, 422) and exc.reason.strip(), (exc.status, exc.reason)
        return
    except ValidationError as exc:  # 422 "payload does not validate (N errors)"
        assert exc.error_count() > 0
        return
    except ValueError as exc:  # 400 "malformed payload: ..."
        assert str(exc).strip()
        return
    for event in events:
        assert event.integration_id == connector.config.id
        assert ids.is_valid(event.external_id), event.external_id[:200]
        assert event.platform_incident_id is None or ids.is_valid(event.platform_incident_id)
        assert event.comment is None or ids.is_valid(event.comment.comment_id)
        # built from a valid id (and a short prefix) or a digest of the body
        assert len(event.delivery_id) <= ids.MAX_LENGTH + 8 and event.delivery_id.isprintable()
        codec.encode(event)  # the ingress publishes what it parsed


@pytest.mark.parametrize(
    ("tool", "config", "headers", "seed"), SEEDS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SEEDS)]
)
def test_a_seed_itself_parses(
    tool: str, config: IntegrationConfig, headers: dict[str, str], seed: JSON
) -> None:
    """The seeds are deliveries the parser accepts: the mutations start from real shapes."""
    events = _connector(config).parse(httpx.Headers(headers), orjson.dumps(seed))
    assert isinstance(events, list)


@pytest.mark.parametrize(
    ("tool", "config", "headers", "seed"), SEEDS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SEEDS)]
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mangled_delivery_parses_or_is_refused_with_a_reason(
    tool: str, config: IntegrationConfig, headers: dict[str, str], seed: JSON, data: st.DataObject
) -> None:
    doc = data.draw(mutated(seed))
    check(_connector(config), headers, orjson.dumps(doc))


@given(body=st.binary(max_size=64) | json_values.map(orjson.dumps))
@settings(max_examples=200, deadline=None)
def test_any_bytes_parse_or_are_refused_with_a_reason(body: bytes) -> None:
    for _, config, headers, _ in {s[0]: s for s in SEEDS}.values():  # one seed per tool
        check(_connector(config), headers, body)


SIGNATURE_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-signature",
    "X-Hub-Signature",
    "Authorization",
    "X-PagerDuty-Signature",
    "X-ServiceNow-Signature",
    "X-Incident-Sync-Token",
)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
forged = st.dictionaries(
    st.sampled_from(SIGNATURE_HEADERS),
    header_values | header_values.map(lambda v: "JWT " + v) | st.just("v1,") | st.just("sha256="),
    max_size=4,
)


@given(headers=forged, body=st.binary(max_size=32))
@settings(max_examples=300, deadline=None)
def test_forged_signature_headers_are_refused_never_crash(
    headers: dict[str, str], body: bytes
) -> None:
    for _, config, _, _ in {s[0]: s for s in SEEDS}.values():  # one seed per tool
        connector = _connector(config)
        try:
            connector.verify(httpx.Headers(headers), body)
        except WebhookRejected as exc:
            assert exc.status == 401 and exc.reason.strip()
        except (ValueError, TypeError, UnicodeError):
            pass  # odd headers: the ingress answers 401 "the signature could not be checked"
        else:
            raise AssertionError(f"{config.type}: a forged delivery verified: {headers}")


def test_times_beyond_the_platforms_range_read_as_absent() -> None:
    """Found by this fuzz: an epoch far in the future raised OverflowError / OSError."""
    assert jira_fields.from_epoch_ms(1e300) is None
    assert jira_fields.from_epoch_ms(2**62) is None
    assert datadog_webhook._posix("1e300") is None
    assert datadog_webhook._posix("nan") is None
    assert jira_fields.from_epoch_ms(1_700_000_000_000) is not None


# -- a string of the wrong type -------------------------------------------------------------
# Lists and objects only: numbers and booleans are a documented alternative in places (Jira's
# numeric ids, ServiceNow's tolerated non-string values), and so are an object with `value` (a
# ServiceNow reference) or `type` (an ADF document).
wrong_types = st.lists(json_values, max_size=3) | st.dictionaries(
    st.text(max_size=8).filter(lambda k: k not in ("value", "type")), json_values, max_size=3
)


def _string_paths(doc: JSON) -> list[NodePath]:
    return [p for p in _paths(doc) if p and isinstance(_get(doc, p), str)]


def _get(doc: JSON, path: NodePath) -> JSON:
    for step in path:
        doc = doc[step]
    return doc


Outcome = list[ChangeEvent] | WebhookRejected


def _outcome(connector: WebhookSource, headers: Mapping[str, str], doc: JSON) -> Outcome:
    try:
        return connector.parse(httpx.Headers(headers), orjson.dumps(doc))
    except WebhookRejected as exc:
        return exc


def _values(event: ChangeEvent) -> dict[str, object]:
    """What a delivery tells about its record: each field's new value, the comment."""
    out: dict[str, object] = {f"changes.{k}": c.new for k, c in event.changes.items()}
    if event.comment is not None:
        out["comment.body"] = event.comment.body
        out["comment.comment_id"] = event.comment.comment_id
    return out


def _by_record(outcome: Outcome) -> dict[tuple[str, str], dict[str, object]]:
    if isinstance(outcome, WebhookRejected):
        return {}
    return {(e.kind.value, e.external_id): _values(e) for e in outcome}


@pytest.mark.parametrize(
    ("tool", "config", "headers", "seed"), SEEDS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SEEDS)]
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_string_of_another_type_is_refused_naming_it_or_ignored_never_cleared(
    tool: str, config: IntegrationConfig, headers: dict[str, str], seed: JSON, data: st.DataObject
) -> None:
    """Refused: 422 (or 400), the reason naming the field. Otherwise ignored: each value the
    delivery carries is what the real delivery carries, or what it carries without that
    field (a fallback such as Jira's status by name), and never a cleared one (None or "")
    that neither carries. Events may drop out (an ignored event type), not appear."""
    connector = _connector(config)
    path = data.draw(st.sampled_from(_string_paths(seed)))
    mutated = _set(copy.deepcopy(seed), path, data.draw(wrong_types), delete=False)
    without = _set(copy.deepcopy(seed), path, None, delete=True)
    got = _outcome(connector, headers, mutated)
    if isinstance(got, WebhookRejected):
        name = next(str(step) for step in reversed(path) if isinstance(step, str))
        assert got.status in (400, 422) and name in got.reason, (path, got.reason)
        return
    check(connector, headers, orjson.dumps(mutated))
    real, absent = (
        _by_record(_outcome(connector, headers, seed)),
        _by_record(_outcome(connector, headers, without)),
    )
    for record, values in _by_record(got).items():
        assert record in real or record in absent, (path, record)
        for name, value in values.items():
            if value == real.get(record, {}).get(name, _MISSING):
                continue
            fallback = absent.get(record, {}).get(name, _MISSING)
            assert value == fallback and value not in (None, ""), (path, name, value)


_MISSING = object()
