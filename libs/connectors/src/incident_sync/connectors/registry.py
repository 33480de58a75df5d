"""The registered connectors: every `ConnectorSpec` of the `incident_sync.connectors`
entry-point group, by tool type, and the connector for a configured side.

Adding a tool is its own package (a connector, its options model, its spec) and one line in
its distribution's `pyproject.toml`; nothing here or in the domain names it. The entry points
are read once per process, on first use. Importing this module installs the registry as the
domain's tool catalogue (`syncmodel.tools.use_catalogue`), so validating a config asks it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from importlib.metadata import entry_points
from typing import Final

import httpx

from incident_sync.connectors.base import Connector
from incident_sync.connectors.spec import ConnectorSpec
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.tools import use_catalogue

GROUP: Final = "incident_sync.connectors"
log = logging.getLogger(__name__)


class Registry:
    """The specs of one entry-point group. An entry point that does not load, or that is no
    `ConnectorSpec` of its own name, is left out with an error in the log (one broken plugin
    must not take every tool down); two distributions registering one name is an error."""

    def __init__(self, group: str = GROUP) -> None:
        self.group = group

    @cached_property
    def specs(self) -> Mapping[str, ConnectorSpec]:
        found: dict[str, ConnectorSpec] = {}
        for point in entry_points(group=self.group):
            try:
                spec = point.load()
            except Exception:  # a plugin's import error: leave it out, say so
                log.exception(
                    "connector left out: its entry point does not load",
                    extra={"type": point.name, "entry_point": point.value},
                )
                continue
            if not isinstance(spec, ConnectorSpec) or spec.type != point.name:
                log.error(
                    "connector left out: its entry point is not a ConnectorSpec of its name",
                    extra={"type": point.name, "entry_point": point.value},
                )
                continue
            if point.name in found and found[point.name] is not spec:
                raise RuntimeError(f"two connectors register the tool type {point.name!r}")
            found[point.name] = spec
        return dict(sorted(found.items()))

    def traits(self, tool: str) -> ConnectorSpec | None:
        return self.specs.get(tool)

    def types(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def spec(self, tool: str) -> ConnectorSpec:
        """The spec of a registered type; ValueError naming the registered ones otherwise."""
        spec = self.specs.get(tool)
        if spec is None:
            known = ", ".join(self.specs) or "none"
            raise ValueError(f"no connector is registered for tool type {tool!r} (known: {known})")
        return spec


def registered_types(group: str = GROUP) -> tuple[str, ...]:
    """The tool types the installed distributions register, sorted, without importing any
    connector (a command line's choices: cheap, and a type whose connector turns out broken
    is still refused where it is used)."""
    return tuple(sorted({point.name for point in entry_points(group=group)}))


REGISTRY: Final = Registry()
use_catalogue(REGISTRY)


def make_connector(
    config: IntegrationConfig, *, http: httpx.AsyncClient | None = None
) -> Connector:
    """A connector for `config`; `http` (e.g. a shared pool or a test transport) is used as
    is, since connectors send absolute URLs with per-request auth."""
    try:
        spec = REGISTRY.spec(config.type)
    except ValueError as exc:
        raise ValueError(f"{config.id}: {exc}") from None
    return spec.connector(config, http=http)
