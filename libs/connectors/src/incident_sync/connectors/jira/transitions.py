"""Moving a Jira issue to a status of the canonical status's category (Jira has no "set
status": a workflow transition does it), filling what the transition screen requires."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incident_sync.connectors.base import ToolError
from incident_sync.connectors.jira.client import JiraClient
from incident_sync.connectors.jira.fields import DONE_CATEGORY, JiraFieldMap
from incident_sync.connectors.jira.options import JiraOptions
from incident_sync.syncmodel.fields import Status


async def move(
    client: JiraClient, fields: JiraFieldMap, options: JiraOptions, key: str, status: str
) -> None:
    """Move the issue to a status of the canonical status's category, if not there yet."""
    if status not in (Status.OPEN, Status.CLOSED):
        raise ToolError(f"Jira: unknown canonical status {status!r}", retryable=False)
    issue = await client.get_issue(key, ("status",))
    current = fields.status_in(issue.get("fields", {}).get("status"))
    if current == status:
        return
    closing = status == Status.CLOSED
    candidates = [
        t
        for t in await client.transitions(key)
        if t.get("isAvailable", True) and (to_category(t) == DONE_CATEGORY) == closing
    ]
    if not candidates:
        raise ToolError(
            f"Jira: issue {key} has no available transition to a "
            f"{'done' if closing else 'not-done'} status",
            retryable=False,
        )
    preferred = options.close_transition if closing else options.reopen_transition
    chosen = next(
        (t for t in candidates if preferred and t.get("name") == preferred), candidates[0]
    )
    await client.transition(key, str(chosen["id"]), required_fields(options, chosen))


def required_fields(options: JiraOptions, transition: Mapping[str, Any]) -> dict[str, object]:
    """Values for the transition screen's required fields (resolution, ...)."""
    out: dict[str, object] = {}
    screen = transition.get("fields")
    if not isinstance(screen, dict):
        return out
    for name, meta in screen.items():
        if not isinstance(meta, dict) or not meta.get("required") or meta.get("hasDefaultValue"):
            continue
        allowed = [a for a in meta.get("allowedValues") or [] if isinstance(a, dict)]
        if name == "resolution":
            wanted = options.close_resolution
            match = next((a for a in allowed if a.get("name") == wanted), None)
            if match is None and allowed:
                match = allowed[0]
            out[name] = {"id": str(match["id"])} if match and "id" in match else {"name": wanted}
        elif allowed and "id" in allowed[0]:
            out[name] = {"id": str(allowed[0]["id"])}
        else:
            raise ToolError(
                f"Jira: transition {transition.get('name')!r} requires field {name!r}, "
                "which incident-sync cannot fill",
                retryable=False,
            )
    return out


def to_category(transition: Mapping[str, Any]) -> str | None:
    to = transition.get("to")
    category = to.get("statusCategory") if isinstance(to, dict) else None
    key = category.get("key") if isinstance(category, dict) else None
    return key if isinstance(key, str) else None
