"""Jira Service Management comments on the real stack: a platform update copied into a JSM
issue is an internal note (its `sd.public.comment` property, read back as a REST client reads
it), unless the integration opts in to public comments (`comment_visibility: public`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from incident_sync.devstack.stack import JIRA_TOKEN, JIRA_USER, Stack
from incident_sync.devstack.tools import Tools, wait_for
from tests.integration.conftest import start_stack

pytestmark = pytest.mark.integration
JIRA = {"project_key": "OPS", "webhook_auth": "hmac"}  # the devstack's options


@pytest.fixture(scope="module", params=["internal", "public"])
def env(request: pytest.FixtureRequest) -> Iterator[tuple[Stack, Tools, str]]:
    options = JIRA if request.param == "internal" else {**JIRA, "comment_visibility": "public"}
    for stack, tools in start_stack(
        tools=("jira",), overrides={"prod-jira": {"ownership": {}, "options": options}}
    ):
        yield stack, tools, request.param


def comments(stack: Stack, issue_id: str) -> list[dict[str, Any]]:
    """The issue's comments with their properties, through the REST API."""
    with httpx.Client(base_url=stack.url("jira"), auth=(JIRA_USER, JIRA_TOKEN)) as api:
        got = api.get(f"/rest/api/3/issue/{issue_id}/comment", params={"expand": "properties"})
        got.raise_for_status()
    found: list[dict[str, Any]] = got.json()["comments"]
    return found


def test_a_platform_update_in_jsm_is_internal_unless_public_is_chosen(
    env: tuple[Stack, Tools, str],
) -> None:
    stack, tools, visibility = env
    incident = tools.declare("Card payments failing", "Card payments failing: summary")
    issues = wait_for(lambda: tools.jira_issues_for(incident["id"]), 30, "the Jira issue")
    issue = issues[0]["id"]
    tools.edit_incident(incident["id"], update_message="Failing over to the second acquirer")
    (copy,) = wait_for(lambda: comments(stack, issue), 30, "the Jira comment")
    internal = visibility == "internal"
    assert copy["properties"] == [{"key": "sd.public.comment", "value": {"internal": internal}}]
    assert copy["jsdPublic"] is not internal
    assert [c["internal"] for c in tools.jira_issue(issue)["comments"]] == [internal]
