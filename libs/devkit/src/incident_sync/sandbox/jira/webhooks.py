"""Jira's webhooks as an admin webhook with a secret sends them: v2 bodies, signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from aiohttp import web

from incident_sync.sandbox.jira.render import Renderer
from incident_sync.sandbox.jira.state import State
from incident_sync.sandbox.jira.store import Comment, Issue
from incident_sync.sandbox.webhook_sender import hold_for_response

JSON = dict[str, Any]
_changelog_ids = iter(range(10000, 1 << 62))


def headers(secret: str, body: bytes) -> dict[str, str]:
    out = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),  # the same on every retry
        "X-Atlassian-Webhook-Flow": "Primary",
        "User-Agent": "Atlassian Webhook HTTP Client",
    }
    if secret:
        out["X-Hub-Signature"] = (
            "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        )
    return out


def _send(request: web.Request, state: State, payload: JSON) -> None:
    body = json.dumps(payload).encode()
    secret = state.config.webhook_secret
    delivery = state.sender.enqueue(
        body, headers(secret, body), hold=True, remake=lambda: (body, headers(secret, body))
    )
    hold_for_response(request, delivery)


def _renderer(request: web.Request, state: State) -> Renderer:
    return Renderer(state.store, f"{request.scheme}://{request.host}", 2)


def issue_event(
    request: web.Request,
    state: State,
    event: str,
    issue: Issue,
    user: str,
    *,
    items: list[JSON] | None = None,
    type_name: str | None = None,
    comment: Comment | None = None,
) -> None:
    r = _renderer(request, state)
    payload: JSON = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": type_name or event.split(":")[-1],
        "user": r.user(user),
        "issue": r.issue(issue),
    }
    if items:
        payload["changelog"] = {"id": str(next(_changelog_ids)), "items": items}
    if comment is not None:
        payload["comment"] = r.comment(issue, comment)
    _send(request, state, payload)


def comment_event(
    request: web.Request, state: State, event: str, issue: Issue, comment: Comment
) -> None:
    r = _renderer(request, state)
    full = r.fields(issue)
    slim = {
        k: full[k] for k in ("summary", "issuetype", "project", "assignee", "priority", "status")
    }
    payload: JSON = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "comment": r.comment(issue, comment),
        "issue": {"id": issue.id, "self": r.issue(issue)["self"], "key": issue.key, "fields": slim},
    }
    _send(request, state, payload)


def comment_added(
    request: web.Request, state: State, issue: Issue, comment: Comment, user: str
) -> None:
    """Jira sends both: the issue was updated (commented) and the comment was created."""
    issue_event(
        request,
        state,
        "jira:issue_updated",
        issue,
        user,
        type_name="issue_commented",
        comment=comment,
    )
    comment_event(request, state, "comment_created", issue, comment)
