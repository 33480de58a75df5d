"""A Datadog incident (API v2, JSON:API) read as canonical fields. Pure.

- title <- `attributes.title`;
- description <- the `summary` textbox field;
- status <- the `state` dropdown: `active` / `stable` are open, `resolved` is closed;
- severity <- the `severity` dropdown through the severity map (default SEV-1 critical,
  SEV-2 major, SEV-3..SEV-5 minor; `UNKNOWN` is no severity).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from incident_sync.connectors.canonical import DESCRIPTION, SEVERITY, STATUS, TITLE
from incident_sync.connectors.datadog.options import CORRELATION_FIELD, DatadogOptions
from incident_sync.syncmodel.fields import Status

STATE_IN: Final[Mapping[str, str]] = {
    "active": Status.OPEN.value,
    "stable": Status.OPEN.value,
    "resolved": Status.CLOSED.value,
}
STATE_OUT: Final[Mapping[str, str]] = {Status.OPEN.value: "active", Status.CLOSED.value: "resolved"}
DEFAULT_SEVERITIES: Final = (
    ("SEV-1", "critical"),
    ("SEV-2", "major"),
    ("SEV-3", "minor"),
    ("SEV-4", "minor"),
    ("SEV-5", "minor"),
)


def _field_value(fields: Mapping[str, Any], name: str) -> object:
    value = fields.get(name)
    return value.get("value") if isinstance(value, Mapping) else None


class DatadogFieldMap:
    def __init__(
        self,
        severities: tuple[tuple[str, str], ...] = DEFAULT_SEVERITIES,
        correlation_field: str = CORRELATION_FIELD,
    ) -> None:
        self._in = {native.upper(): canonical for native, canonical in severities}
        self._out: dict[str, str] = {}
        for native, canonical in severities:
            self._out.setdefault(canonical.casefold(), native)
        self.correlation_field = correlation_field

    @classmethod
    def from_options(cls, options: DatadogOptions | Mapping[str, object]) -> DatadogFieldMap:
        options = DatadogOptions.coerce(options)
        kwargs: dict[str, Any] = {}
        if options.severity_map:
            kwargs["severities"] = options.severity_map
        if options.correlation_field:
            kwargs["correlation_field"] = options.correlation_field
        return cls(**kwargs)

    def severity_out(self, canonical: str) -> str | None:
        return self._out.get(canonical.casefold())

    def canonical(self, attributes: Mapping[str, Any]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        fields = attributes.get("fields") if isinstance(attributes.get("fields"), dict) else {}
        assert isinstance(fields, dict)
        if isinstance(title := attributes.get("title"), str):
            out[TITLE] = title
        if "summary" in fields:
            summary = _field_value(fields, "summary")
            out[DESCRIPTION] = summary if isinstance(summary, str) else None
        state = _field_value(fields, "state") or attributes.get("state")
        if isinstance(state, str) and state in STATE_IN:
            out[STATUS] = STATE_IN[state]
        severity = _field_value(fields, "severity") or attributes.get("severity")
        if isinstance(severity, str):
            if severity.upper() == "UNKNOWN":
                out[SEVERITY] = None
            elif (mapped := self._in.get(severity.upper())) is not None:
                out[SEVERITY] = mapped
        return out

    def platform_incident(self, attributes: Mapping[str, Any]) -> str | None:
        fields = attributes.get("fields")
        if not isinstance(fields, dict):
            return None
        value = _field_value(fields, self.correlation_field)
        return value if isinstance(value, str) and value else None


def version_of(value: object) -> str | None:
    """`modified` (`2026-02-23T14:06:46.306566+00:00`) as the common sortable version."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
