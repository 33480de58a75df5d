"""Reading the shapes of vendors' JSON defensively: a webhook body is input, signed or not,
and a field documented as a string may hold anything.

The rule every parser follows (docs/architecture.md, "Trust at the edges"):
- a text field a tool documents as a string (a title, a description, a comment body) that
  holds another type is refused: `WrongShape`, a 422 naming the field
  (`incident.summary: expected a string`). Read as absent it would clear the other side;
- an id (record, comment, delivery) follows `syncmodel.ids`, else 422 naming the field;
- a structured value of the wrong shape (a status or severity object, a user, a custom field
  entry, a list where an array should be) is ignored: as if absent, never read as cleared;
- references, actors, timestamps and a record's claim to an incident of the wrong type or
  shape are ignored.
A parser thus refuses or ignores; it never fails with a TypeError (a 500 at the ingress).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from incident_sync.connectors.base import WebhookRejected
from incident_sync.syncmodel import ids


class WrongShape(WebhookRejected):
    """A field of the wrong type, or an id outside the id rule: 422, the reason names it.
    The value itself is never quoted (it may be 200 KB, or hold control characters)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(422, f"{where}: {problem}")
        self.where = where


def body_object(body: bytes) -> dict[str, Any]:
    """A webhook body that must be a JSON object; anything else is refused with 400."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookRejected(400, f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return data


def as_list(value: object) -> list[Any]:
    """A JSON array as it is; null, a scalar or an object as an empty list."""
    return value if isinstance(value, list) else []


def text(value: object, where: str) -> str | None:
    """A string field's value (None for null); anything else is refused."""
    if value is None or isinstance(value, str):
        return value
    raise WrongShape(where, "expected a string")


def present_text(obj: Mapping[str, Any], key: str, where: str) -> tuple[bool, str | None]:
    """(whether `obj` has `key`, its text): absent and null are told apart."""
    if key not in obj:
        return False, None
    return True, text(obj[key], f"{where}.{key}" if where else key)


def record_id(value: object, where: str) -> str:
    """An id that must follow the id rule; ints (Jira's ids) are read as their digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise WrongShape(where, "missing")
    problem = ids.problem(value)
    if problem is not None:
        raise WrongShape(where, problem)
    return str(value)


def header_id(headers: Mapping[str, str], name: str) -> str | None:
    """A delivery-id header: None when absent, refused when it breaks the id rule."""
    value = headers.get(name)
    if not value:
        return None
    return record_id(value, f"{name} header")


def claimed_id(value: object) -> str | None:
    """An id a record claims (its platform incident, in a field people can edit): kept when
    it follows the id rule, ignored otherwise."""
    return value if isinstance(value, str) and ids.is_valid(value) else None
