"""The request checker itself finds what is wrong (so a passing check means something)."""

from __future__ import annotations

import orjson

from tests.unit.connectors.openapi import Request, spec

JIRA = "jira-cloud-platform-swagger-v3.v3.json"
PD = "pagerduty-rest-openapiv3.json"


def req(method: str, path: str, body: object = None, **headers: str) -> Request:
    raw = orjson.dumps(body) if body is not None else b""
    return Request(method, path, {}, headers, raw)


def test_unknown_operations_and_bad_bodies_are_reported() -> None:
    jira = spec(JIRA)
    assert (
        jira.problems(
            req("POST", "/rest/api/3/issue/OPS-1/transitions", {"transition": {"id": "5"}})
        )
        == []
    )
    assert "no such operation" in jira.problems(req("PATCH", "/rest/api/3/issue/OPS-1"))[0]
    bad = jira.problems(req("POST", "/rest/api/3/issue/OPS-1/transitions", {"transition": "5"}))
    assert bad and "transition" in bad[0]


def test_required_headers_are_reported() -> None:
    pd = spec(PD)
    body = {"incident": {"type": "incident_reference", "status": "resolved"}}
    problems = pd.problems(req("PUT", "/incidents/PT4KHLK", body))
    assert any("From" in p for p in problems) and any("Accept" in p for p in problems)
    headers = {
        "Accept": "application/vnd.pagerduty+json;version=2",
        "Content-Type": "application/json",
        "From": "a@b.c",
    }
    assert pd.problems(req("PUT", "/incidents/PT4KHLK", body, **headers)) == []
    wrong = {"incident": {"type": "incident_reference", "status": "closed"}}
    assert pd.problems(req("PUT", "/incidents/PT4KHLK", wrong, **headers))
