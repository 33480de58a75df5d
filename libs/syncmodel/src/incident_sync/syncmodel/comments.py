"""Comments / work notes mapped id <-> id: the pure part.

A comment is routed like the canonical field `comment` (direction, mapping and ownership in
`syncmodel.routing`); each planned write of it is then carried by its command as a
`CommentChange` naming the SOURCE's comment id, which delivery maps to the id of the copy it
makes on the target. So a redelivered "added" never makes a second copy, and an edit or a
delete follows the copy it belongs to (where the target's tool can edit or delete).

Sides whose stream has no ids (a platform's updates, a ticket's work notes: only the latest
entry is seen) get an id derived from the record's version, stable across redeliveries of the
same snapshot; their entries are still told apart by the gate's no-op check.
"""

from __future__ import annotations

from collections.abc import Mapping

from incident_sync.syncmodel.echo import normalize
from incident_sync.syncmodel.events import (
    ChangeEvent,
    CommentAction,
    CommentChange,
    DeliveryCommand,
    FieldChange,
    LinkedEvent,
)
from incident_sync.syncmodel.fields import Field

COMMENT = Field.COMMENT.value


def source_comment_id(event: ChangeEvent) -> str:
    """The source's id of the comment an event adds (derived where the tool has none)."""
    if event.comment is not None:
        return event.comment.comment_id
    return f"~{event.version or event.event_id}"


def comment_changes(event: ChangeEvent) -> dict[str, FieldChange]:
    """A comment event as the `comment` field, for routing: its text (None for a delete)."""
    change = event.comment
    if change is None:
        return {}
    body = None if change.action is CommentAction.DELETED else (change.body or "")
    return {COMMENT: FieldChange(new=body)}


def forced_changes(
    fresh: Mapping[str, FieldChange], known: Mapping[str, str | None]
) -> dict[str, FieldChange]:
    """What a manual refresh pushes: every field, except a latest comment entry already
    known (the stream is appended to: pushing that entry again would copy it again)."""
    out = dict(fresh)
    entry = out.get(COMMENT)
    if entry is not None and COMMENT in known and normalize(known[COMMENT]) == normalize(entry.new):
        del out[COMMENT]
    return out


def by_comment_id(commands: list[DeliveryCommand], linked: LinkedEvent) -> list[DeliveryCommand]:
    """Carry each planned comment write as a CommentChange keyed by the source comment id.

    Creates keep their comment among the fields (the new record's first entry). Writes that
    are not the source's own propagation (re-assertions of another side's winner, put-backs
    on the source record) never carry a comment.
    """
    event = linked.event
    out: list[DeliveryCommand] = []
    for cmd in commands:
        if cmd.is_create or COMMENT not in cmd.set_fields or cmd.comment is not None:
            out.append(cmd)
            continue
        body = cmd.set_fields[COMMENT]
        fields = {k: v for k, v in cmd.set_fields.items() if k != COMMENT}
        own = (
            cmd.source_integration_id == event.integration_id
            and cmd.target_integration_id != event.integration_id
        )
        change: CommentChange | None = None
        if own and event.comment is not None:
            change = event.comment.model_copy(update={"body": body})
        elif own and body:
            change = CommentChange(
                action=CommentAction.ADDED, comment_id=source_comment_id(event), body=body
            )
        if change is None and not fields:
            continue  # nothing left to write
        out.append(cmd.model_copy(update={"set_fields": fields, "comment": change}))
    return out
