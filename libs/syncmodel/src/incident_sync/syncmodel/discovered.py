"""What a tool says about one of its fields, read from the tool itself (`im integration fields`):
the shape field mappings are checked against when they are written.

Every connector that can list its fields (`connectors.capabilities.FieldCatalogue`) answers
with these, whatever the tool calls the parts (a table's dictionary entries and choices, an
issue tracker's create metadata, an incident's custom fields and their options); see
docs/connectors.md for what each reads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The kinds of value a field holds, as far as a mapping needs to know: free text (`string`
# on one line, `text` on many), a number, a yes/no, a time, one or several of a fixed set of
# options, a user, or a reference to a record of another table (a group, a CI, a service).
FieldKind = Literal[
    "string", "text", "number", "boolean", "datetime", "option", "options", "user", "reference"
]


class ToolField(BaseModel):
    """One field of a tool's records. `name` is the tool's own (API) name, the one a mapping
    names; `label` what people see. `allowed`: the values an option field takes, as its API
    writes them (a choice's value, an option's name), None where any value of its kind goes;
    `max_length`: the longest text it keeps, None where the tool states none; `reference`:
    what a reference field points to (a table, `user`, `group`, `service`); `writable`:
    whether the API takes a value for it at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    label: str = Field(max_length=200)
    kind: FieldKind
    required: bool = False
    allowed: tuple[str, ...] | None = None
    max_length: int | None = Field(default=None, ge=1)
    reference: str | None = None
    writable: bool = True


class FieldList(BaseModel):
    """A tool's fields, as the control API answers `GET .../fields`."""

    model_config = ConfigDict(extra="forbid")

    name: str  # the integration's
    type: str  # its tool type
    fields: list[ToolField]
