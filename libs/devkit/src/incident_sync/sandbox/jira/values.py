"""What the sandbox's Jira accepts in a write, and how it refuses: the field checks (a
summary, an ADF document, labels, entity properties, with Jira Cloud's limits) and the error
that becomes Jira's `{"errorMessages", "errors"}` answer."""

from __future__ import annotations

from typing import Any

from incident_sync.sandbox.jira.adf import is_doc, to_wiki

# Jira Cloud's limits: a summary of 255 characters; a description or a comment of 32,767,
# measured here on the stored (wiki) text. Beyond them the write is refused.
SUMMARY_MAX = 255
TEXT_MAX = 32_767


class JiraError(Exception):
    """A 400 with Jira's `{"errorMessages", "errors"}` body."""

    def __init__(
        self, message: str | None = None, errors: dict[str, str] | None = None, status: int = 400
    ) -> None:
        super().__init__(message or str(errors))
        self.messages = [message] if message else []
        self.errors = errors or {}
        self.status = status


def entity_properties(value: object) -> dict[str, Any]:
    """A create/update body's `properties` (`[{"key", "value"}]`, the EntityProperty shape)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise JiraError("properties: expected an array of entity properties")
    out: dict[str, Any] = {}
    for prop in value:
        if not isinstance(prop, dict) or set(prop) - {"key", "value"}:
            raise JiraError("properties: an entity property is {key, value}")
        key = prop.get("key")
        if not isinstance(key, str) or not 0 < len(key) <= 255 or "value" not in prop:
            raise JiraError("properties: key (at most 255 characters) and value are required")
        out[key] = prop["value"]
    return out


def summary_of(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JiraError(errors={"summary": "You must specify a summary of the issue."})
    if len(value) > SUMMARY_MAX:
        raise JiraError(errors={"summary": "Summary must be less than 255 characters."})
    return value


def check_doc(name: str, value: object, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not is_doc(value):
        raise JiraError(
            errors={
                name: "Operation value must be an Atlassian Document "
                "(see the Atlassian Document Format)"
            }
        )
    if len(to_wiki(value) or "") > TEXT_MAX:
        if name == "description":  # what REST v3 answers for an issue field
            raise JiraError("CONTENT_LIMIT_EXCEEDED")
        raise JiraError(
            errors={name: "The entered text is too long. It exceeds the allowed limit of 32,767 "
                    "characters."}
        )  # fmt: skip


def labels_of(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise JiraError(errors={"labels": "labels must be a list of strings"})
    if any(" " in v or not v for v in value):
        raise JiraError(errors={"labels": "Labels cannot contain spaces."})
    return list(dict.fromkeys(value))
