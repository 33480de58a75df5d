"""The incident message: text, blocks and the metadata that holds the canonical fields. Pure.

The message is rebuilt whole on every change (`chat.update` replaces text and blocks), so the
canonical values it shows are kept in the message's own metadata (`event_type`
`incident_sync`): reading the message back gives the state to merge the next change into.

Limits (Slack's Block Kit and chat.postMessage references): a section's text holds 3,000
characters (a longer one is refused, `invalid_blocks`), and so does a context element's
text; a message's `text` is truncated by Slack beyond 40,000. What is shown is cut to fit,
visibly (`syncmodel.limits`); the metadata keeps the whole values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from incident_sync.syncmodel.fields import Field, Status
from incident_sync.syncmodel.limits import cut

EVENT_TYPE: Final = "incident_sync"
BLOCK_TEXT_MAX: Final = 3_000  # a section's or a context element's text
MESSAGE_TEXT_MAX: Final = 40_000  # a message's `text` (a thread reply's too)
SHOWN: Final = (
    Field.TITLE.value,
    Field.DESCRIPTION.value,
    Field.STATUS.value,
    Field.SEVERITY.value,
    Field.PRIORITY.value,
    Field.ASSIGNEE.value,
)


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shown(prefix: str, value: str, suffix: str = "") -> str:
    """`prefix` + the escaped value + `suffix`, the value cut so that the whole fits."""

    def measure(text: str) -> int:
        return len(prefix) + len(_escape(text)) + len(suffix)

    kept = cut(value, BLOCK_TEXT_MAX, measure=measure) or ""
    return prefix + _escape(kept) + suffix


def render(platform_incident_id: str, fields: Mapping[str, str | None]) -> dict[str, Any]:
    """`text` (the notification fallback), `blocks` and `metadata` for post / update."""
    title = fields.get(Field.TITLE.value) or f"Incident {platform_incident_id}"
    closed = fields.get(Field.STATUS.value) == Status.CLOSED.value
    icon = ":white_check_mark:" if closed else ":rotating_light:"
    status = (fields.get(Field.STATUS.value) or "open").upper()
    facts = [
        _shown(f"*{label}:* ", value)
        for label, name in (
            ("Severity", Field.SEVERITY.value),
            ("Priority", Field.PRIORITY.value),
            ("Assignee", Field.ASSIGNEE.value),
        )
        if (value := fields.get(name))
    ]
    headline = _shown(f"{icon} *[{status}] ", title, "*")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}}
    ]
    if facts:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f} for f in facts]}
        )
    if description := fields.get(Field.DESCRIPTION.value):
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _shown("", description)}}
        )
    payload = {name: fields.get(name) for name in SHOWN if name in fields}
    return {
        "text": cut(f"[{status}] {title}", MESSAGE_TEXT_MAX),
        "blocks": blocks,
        "metadata": {
            "event_type": EVENT_TYPE,
            "event_payload": {"platform_incident_id": platform_incident_id, **payload},
        },
    }


def state_of(message: Mapping[str, Any]) -> tuple[str | None, dict[str, str | None]]:
    """(platform incident id, canonical fields) from a message's metadata."""
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EVENT_TYPE:
        return None, {}
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return None, {}
    pid = payload.get("platform_incident_id")
    fields = {
        name: (value if isinstance(value, str) else None)
        for name, value in payload.items()
        if name in SHOWN
    }
    return (pid if isinstance(pid, str) else None), fields
