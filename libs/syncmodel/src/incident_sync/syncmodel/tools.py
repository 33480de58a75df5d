"""What the domain needs to know about a tool type, without naming any tool: its traits.

A tool type is a string (`IntegrationConfig.type`). Each connector package declares the
traits of its type (`connectors.spec.ConnectorSpec` extends `ToolTraits`) and registers them
through the `incident_sync.connectors` entry points; the connector registry collects them and
installs itself here as the **catalogue** (`use_catalogue`), which the config's validation,
its default ownership, its field sets and its forced direction ask. Pure: this module reads
nothing; the catalogue is handed in.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from incident_sync.syncmodel.fields import Direction
from incident_sync.syncmodel.ownership import FieldOwnership


class NoOptions(BaseModel):
    """The options of a tool that takes none: every option is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


@dataclass(frozen=True)
class CanonicalFields:
    """The canonical fields a tool can carry: taken in from it, and written to it."""

    inbound: frozenset[str]
    outbound: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class ToolTraits:
    """A tool type as the domain sees it.

    `options`: the pydantic model of its `IntegrationConfig.options` (extra="forbid"; a bad,
    unknown or mistyped option is refused at load, naming it). `fields`: the canonical fields
    of a tool that maps its values in code (an identity mapping over them); None for a tool
    whose native fields go through the field-mapping engine (a mapping file).
    `default_ownership`: the rules of an integration that lists none. `direction`: the one
    direction every integration of the type has, whatever its config says (a notifier's
    `outbound`); None: configurable. `platform`: an incident platform, whose fields are its
    own fixed table (never the mapping engine's, so its feature flags mean nothing).
    `guide_keys`: top-level blocks of the seed guide's config file about this tool, each
    with where that setting lives here (a sides file holding one is refused with the hint)."""

    type: str
    options: builtins.type[BaseModel] = NoOptions  # `type` is the field above
    fields: CanonicalFields | None = None
    default_ownership: Mapping[str, FieldOwnership] = field(default_factory=dict)
    direction: Direction | None = None
    platform: bool = False
    guide_keys: Mapping[str, str] = field(default_factory=dict)


class ToolCatalogue(Protocol):
    """The registered tool types (the connector registry is one)."""

    def traits(self, tool: str) -> ToolTraits | None:
        """The traits of `tool`, None when no connector registers it."""

    def types(self) -> tuple[str, ...]:
        """Every registered tool type, sorted."""


_installed: list[ToolCatalogue] = []


def use_catalogue(catalogue: ToolCatalogue) -> None:
    """Make `catalogue` the one every lookup below asks (the last installed wins)."""
    _installed[:] = [catalogue]


def catalogue() -> ToolCatalogue:
    if not _installed:
        raise LookupError(
            "no tool catalogue is installed: import incident_sync.connectors.registry first"
        )
    return _installed[0]


def traits_of(tool: str) -> ToolTraits:
    """The traits of a registered tool type; ValueError naming the known ones otherwise."""
    found = catalogue().traits(tool)
    if found is None:
        known = ", ".join(catalogue().types()) or "none"
        # The given name is not repeated: validation errors never echo their input.
        raise ValueError(f"no connector is registered for this tool type (known: {known})")
    return found


def known(tool: object) -> ToolTraits | None:
    """The traits of `tool` when it is a registered type's name, else None."""
    return catalogue().traits(tool) if isinstance(tool, str) else None


def default_ownership(tool: str) -> dict[str, FieldOwnership]:
    """The ownership rules of an integration of `tool` that lists none."""
    return dict(traits_of(tool).default_ownership)
