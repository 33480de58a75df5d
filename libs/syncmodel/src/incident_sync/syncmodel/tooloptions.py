"""The tool-specific settings (`IntegrationConfig.options`) each tool's connector reads.

An option no connector reads is a typo or a wish: it is refused at load, naming it, rather
than ignored. Each connector documents its options in its module docstring;
`tests/unit/test_config_keys.py` checks this table against what the connectors read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from incident_sync.syncmodel.fields import ToolType

TOOL_OPTIONS: Final[Mapping[ToolType, frozenset[str]]] = {
    ToolType.INCIDENTIO: frozenset(
        {"comment_custom_field", "create_mode", "priority_custom_field", "visibility"}
    ),
    ToolType.SERVICENOW: frozenset(
        {
            "column_lengths",
            "correlation_field",
            "urgency",
            "impact",
            "category",
            "assignment_group",
            "close_code",
            "close_notes",
        }
    ),
    ToolType.JIRA: frozenset(
        {
            "close_resolution",
            "close_transition",
            "closed_statuses",
            "comment_visibility",
            "connect_client_key",
            "connect_path",
            "correlation_label_prefix",
            "issue_type",
            "priority_map",
            "project_key",
            "reopen_transition",
            "severity_field",
            "webhook_auth",
        }
    ),
    ToolType.PAGERDUTY: frozenset(
        {
            "incident_key_prefix",
            "priority_map",
            "reopen_status",
            "resolution",
            "service_id",
            "urgency",
        }
    ),
    ToolType.DATADOG: frozenset(
        {"correlation_field", "ref_field", "severity_map", "webhook_header"}
    ),
    ToolType.SLACK: frozenset({"channel", "history_pages"}),
}


def unknown_options(tool: ToolType, options: Mapping[str, str]) -> list[str]:
    """The option names `tool`'s connector does not read, sorted."""
    return sorted(set(options) - TOOL_OPTIONS.get(tool, frozenset()))
