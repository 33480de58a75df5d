"""Jira webhook deliveries -> canonical ChangeEvents. Pure (runs on the ingress hot path).

Webhook bodies use the REST v2 representation (wiki-markup text, `/rest/api/2` self links):
- `jira:issue_created`: every canonical field of the issue snapshot;
- `jira:issue_updated`: the fields named by `changelog.items`, new values read from the issue
  snapshot (status by category, priority through the map), old values from `fromString`;
- `jira:issue_deleted`: kind `deleted` (the pipeline unlinks it and notes it on the incident);
- `comment_created` / `comment_updated` / `comment_deleted`: a CommentChange with Jira's
  comment id (the pipeline maps it id <-> id); an added comment also sets the canonical
  `comment` field (the record's latest entry).
Other events (issue links, worklogs, projects, sprints...) are well-formed but not synced.
The delivery id is `X-Atlassian-Webhook-Identifier` (unchanged on Jira's retries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from incident_sync.connectors.base import WebhookRejected
from incident_sync.connectors.canonical import (
    ASSIGNEE,
    COMMENT,
    DESCRIPTION,
    PRIORITY,
    SEVERITY,
    STATUS,
    TITLE,
)
from incident_sync.connectors.jira.fields import (
    JiraFieldMap,
    body_value,
    from_epoch_ms,
    parse_time,
    user_id,
    version_of,
)
from incident_sync.connectors.jsonshape import body_object, header_id, record_id
from incident_sync.syncmodel.events import (
    ChangeEvent,
    ChangeKind,
    CommentAction,
    CommentChange,
    FieldChange,
)

DELIVERY_HEADER: Final = "X-Atlassian-Webhook-Identifier"
ISSUE_EVENTS: Final[Mapping[str, ChangeKind]] = {
    "jira:issue_created": ChangeKind.CREATED,
    "jira:issue_updated": ChangeKind.UPDATED,
    "jira:issue_deleted": ChangeKind.DELETED,
}
COMMENT_EVENTS: Final[Mapping[str, CommentAction]] = {
    "comment_created": CommentAction.ADDED,
    "comment_updated": CommentAction.EDITED,
    "comment_deleted": CommentAction.DELETED,
}
# changelog `field` (or `fieldId`) -> canonical field
CHANGELOG_FIELDS: Final[Mapping[str, str]] = {
    "summary": TITLE,
    "description": DESCRIPTION,
    "status": STATUS,
    "priority": PRIORITY,
    "assignee": ASSIGNEE,
}
# (what the connector's code read, the issue's fields) -> the record's platform fields with
# the declared maps' ones crossed from those fields (`JiraConnector._declared_of`).
Declared = Callable[[Mapping[str, str | None], Mapping[str, Any]], dict[str, str | None]]


def _no_maps(own: Mapping[str, str | None], raw: Mapping[str, Any]) -> dict[str, str | None]:
    return dict(own)


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    fields: JiraFieldMap,
    integration_id: str,
    tenant: str,
    declared: Declared = _no_maps,
) -> list[ChangeEvent]:
    """The events of one delivery. `declared` crosses the declared maps' fields (a created
    issue's snapshot, an updated one's changelog items naming them) as `fetch` reads them."""
    data = body_object(body)
    event = data.get("webhookEvent")
    if not isinstance(event, str) or not event:
        raise WebhookRejected(422, "missing webhookEvent: not a Jira webhook")
    if event not in ISSUE_EVENTS and event not in COMMENT_EVENTS:
        return []
    issue = data.get("issue")
    if not isinstance(issue, dict):
        raise WebhookRejected(422, f"{event}: missing the issue object")
    issue_id = record_id(issue.get("id"), "issue.id")
    issue_fields = issue.get("fields")
    if not isinstance(issue_fields, dict):
        raise WebhookRejected(422, f"{event}: missing issue.fields")
    delivery_id = (
        header_id(headers, DELIVERY_HEADER) or "sha256:" + hashlib.sha256(body).hexdigest()
    )
    sent_at = from_epoch_ms(data.get("timestamp"))
    updated = parse_time(issue_fields.get("updated")) or sent_at
    key = issue.get("key")
    base: dict[str, Any] = {
        "delivery_id": delivery_id,
        "tenant": tenant,
        "integration_id": integration_id,
        "external_id": issue_id,
        "reference": key if isinstance(key, str) and key else None,
        "platform_incident_id": fields.platform_incident(issue_fields.get("labels")),
    }
    if event in COMMENT_EVENTS:
        return [_comment_event(base, data, event, sent_at, fields)]
    kind = ISSUE_EVENTS[event]
    if kind is ChangeKind.DELETED:
        changes: dict[str, FieldChange] = {}
    elif kind is ChangeKind.CREATED:
        snapshot = declared(fields.canonical(issue_fields, with_comment=False), issue_fields)
        changes = {f: FieldChange(new=v) for f, v in snapshot.items() if v is not None}
    else:
        changes = _changelog(data.get("changelog"), issue_fields, fields, declared)
        if not changes:
            return []  # an update of fields this service does not sync
    extra: dict[str, Any] = {}
    if updated is not None:
        extra["source_ts"] = updated
    return [
        ChangeEvent(
            **base,
            kind=kind,
            changes=changes,
            version=version_of(updated),
            actor=user_id(data.get("user")),
            **extra,
        )
    ]


def _changelog(
    changelog: object, issue_fields: Mapping[str, Any], fields: JiraFieldMap, declared: Declared
) -> dict[str, FieldChange]:
    if changelog is None:
        return {}
    if not isinstance(changelog, dict):
        raise WebhookRejected(422, "changelog must be an object")
    items = changelog.get("items")
    if not isinstance(items, list):
        raise WebhookRejected(422, "changelog.items must be a list")
    current = declared(fields.canonical(issue_fields, with_comment=False), issue_fields)
    out: dict[str, FieldChange] = {}
    for item in items:
        if not isinstance(item, dict):
            raise WebhookRejected(422, "changelog.items holds a non-object")
        out.update(_declared_change(item, issue_fields, declared))
        canonical = _canonical_field(item, fields)
        if canonical is None or canonical not in current:
            continue  # not synced, or its new value cannot be read (hidden e-mail address)
        old = _old_value(canonical, item, fields)
        out[canonical] = FieldChange(old=old, new=current[canonical])
    return out


def _declared_change(
    item: Mapping[str, Any], issue_fields: Mapping[str, Any], declared: Declared
) -> dict[str, FieldChange]:
    """The platform fields a changelog item changes through the declared maps: the new value
    from the issue snapshot, the old one from `fromString` where it is a single value."""
    field_id = item.get("fieldId")
    if not isinstance(field_id, str) or field_id not in issue_fields:
        return {}
    new = declared({}, {field_id: issue_fields[field_id]})
    if not new:
        return {}
    raw = issue_fields[field_id]
    single = isinstance(raw, str) or (isinstance(raw, Mapping) and "accountId" not in raw)
    before = item.get("fromString")
    old = declared({}, {field_id: before}) if single and isinstance(before, str) else {}
    return {name: FieldChange(old=old.get(name), new=value) for name, value in new.items()}


def _canonical_field(item: Mapping[str, Any], fields: JiraFieldMap) -> str | None:
    field_id = item.get("fieldId")
    name = item.get("field")
    if fields.severity_field and fields.severity_field in (field_id, name):
        return SEVERITY
    for key in (field_id, name):
        canonical = CHANGELOG_FIELDS.get(key) if isinstance(key, str) else None
        if canonical is not None and item.get("fieldtype", "jira") == "jira":
            return canonical
    return None


def _old_value(canonical: str, item: Mapping[str, Any], fields: JiraFieldMap) -> str | None:
    before = item.get("fromString")
    if not isinstance(before, str):
        return None  # none, or of another shape: the old value is not known
    if canonical == PRIORITY:
        return fields.priority_in(before)
    if canonical == STATUS:
        return fields.status_by_name(before)
    if canonical == ASSIGNEE:
        return None  # the changelog names users, it does not give their e-mail address
    if canonical == SEVERITY:
        return before.lower()
    return before


def _comment_event(
    base: Mapping[str, Any],
    data: Mapping[str, Any],
    event: str,
    sent_at: Any,
    fields: JiraFieldMap,
) -> ChangeEvent:
    comment = data.get("comment")
    if not isinstance(comment, dict):
        raise WebhookRejected(422, f"{event}: missing the comment object")
    comment_id = record_id(comment.get("id"), "comment.id")
    action = COMMENT_EVENTS[event]
    author = user_id(comment.get("updateAuthor")) or user_id(comment.get("author"))
    text = None
    if action is not CommentAction.DELETED:
        # A body of another shape would copy as an empty comment (or empty an edited copy).
        text = body_value(comment.get("body"), "comment.body")
        if text is None:
            raise WebhookRejected(422, "comment.body: missing")
    when = parse_time(comment.get("updated")) or sent_at
    changes = {COMMENT: FieldChange(new=text)} if action is CommentAction.ADDED and text else {}
    extra: dict[str, Any] = {"source_ts": when} if when is not None else {}
    return ChangeEvent(
        **base,
        kind=ChangeKind.UPDATED,
        changes=changes,
        comment=CommentChange(action=action, comment_id=comment_id, body=text, author=author),
        version=version_of(when),
        actor=author,
        **extra,
    )
