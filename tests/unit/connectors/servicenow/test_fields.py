"""ServiceNow's fields from the instance's dictionary: internal types read as kinds, choice
lists as allowed values, the nearest table's entry winning (incident over task); and the
connector reading both tables through the Table API of the sandbox."""

from __future__ import annotations

import pytest

from incident_sync.connectors.capabilities import FieldCatalogue
from incident_sync.connectors.servicenow.connector import ServiceNowConnector
from incident_sync.connectors.servicenow.dictionary import kind_of, tool_fields
from incident_sync.sandbox.servicenow.app import build_app as sn_app
from incident_sync.sandbox.servicenow.state import ServiceNowConfig
from incident_sync.syncmodel.config import IntegrationConfig
from tests.unit.connectors.sandbox_harness import running


@pytest.mark.parametrize(
    ("internal_type", "reference", "choice", "kind"),
    [
        ("string", "", "", "string"),
        ("string", "", "3", "option"),  # category: a string column with a choice list
        ("integer", "", "1", "option"),  # state, impact: coded choices
        ("integer", "", "0", "number"),
        ("decimal", "", "", "number"),
        ("journal_input", "", "", "text"),
        ("journal", "", "", "text"),
        ("html", "", "", "text"),
        ("boolean", "", "", "boolean"),
        ("glide_date_time", "", "", "datetime"),
        ("due_date", "", "", "datetime"),
        ("reference", "sys_user_group", "", "reference"),
        ("reference", "sys_user", "", "user"),
        ("reference", "cmdb_ci", "3", "reference"),  # a reference stays one
        ("glide_list", "sys_user", "", "options"),
        ("choice", "", "", "option"),
        ("GUID", "", "", "string"),
        ("made_up_type", "", "", "string"),  # an unknown type: text on one line
    ],
)
def test_internal_types_map_to_kinds(
    internal_type: str, reference: str, choice: str, kind: str
) -> None:
    assert kind_of(internal_type, reference=reference, choice=choice) == kind


def test_the_nearest_tables_entry_and_choices_win() -> None:
    dictionary = [
        {"name": "task", "element": "state", "column_label": "State", "internal_type": "integer",
         "choice": "3", "max_length": "40"},
        {"name": "incident", "element": "state", "column_label": "Incident state",
         "internal_type": "integer", "choice": "3", "mandatory": "true", "max_length": "40"},
        {"name": "task", "element": "short_description", "column_label": "Short description",
         "internal_type": "string", "max_length": "160"},
        {"name": "task", "element": "sys_id", "column_label": "Sys ID", "internal_type": "GUID",
         "read_only": "true", "max_length": "32"},
        {"name": "incident", "element": "assignment_group", "internal_type": "reference",
         "reference": "sys_user_group", "max_length": "32"},
        {"name": "problem", "element": "cause", "internal_type": "string"},  # another table
    ]  # fmt: skip
    choices = [
        {"name": "task", "element": "state", "value": "99", "sequence": "1"},
        {"name": "incident", "element": "state", "value": "6", "sequence": "20"},
        {"name": "incident", "element": "state", "value": "1", "sequence": "10"},
    ]
    fields = {f.name: f for f in tool_fields(dictionary, choices, ("incident", "task"))}
    assert set(fields) == {"state", "short_description", "sys_id", "assignment_group"}
    state = fields["state"]
    assert (state.label, state.kind, state.required) == ("Incident state", "option", True)
    assert state.allowed == ("1", "6")  # incident's list, in its order; task's is replaced
    assert state.max_length is None  # a number's storage size is no limit of a value
    assert fields["short_description"].max_length == 160
    assert fields["short_description"].allowed is None
    assert fields["sys_id"].writable is False
    group = fields["assignment_group"]
    assert (group.kind, group.reference, group.max_length) == ("reference", "sys_user_group", None)


def snow(url: str) -> ServiceNowConnector:
    return ServiceNowConnector(IntegrationConfig.model_validate({
        "id": "prod-snow", "type": "servicenow", "base_url": url, "username": "incident-sync",
        "password": "secret"}))  # fmt: skip


async def test_the_connector_reads_the_incident_tables_dictionary() -> None:
    config = ServiceNowConfig(
        max_lengths={"task.short_description": 80}, mandatory=("incident.caller_id",)
    )
    async with running(lambda _: sn_app(config)) as sn:
        conn = snow(sn.url)
        assert isinstance(conn, FieldCatalogue)
        try:
            fields = {f.name: f for f in await conn.fields()}
        finally:
            await conn.aclose()
        asked = sn.api_requests("/api/now/table/sys_dictionary")
    assert fields["short_description"].max_length == 80  # the instance's, not the stock one
    assert fields["short_description"].kind == "string"
    group = fields["assignment_group"]
    assert (group.kind, group.reference) == ("reference", "sys_user_group")
    assert (fields["cmdb_ci"].kind, fields["cmdb_ci"].reference) == ("reference", "cmdb_ci")
    caller = fields["caller_id"]
    assert (caller.kind, caller.reference, caller.required) == ("user", "sys_user", True)
    assert fields["category"].kind == "option"
    assert fields["category"].allowed is not None and "inquiry" in fields["category"].allowed
    assert fields["state"].allowed == ("1", "2", "3", "6", "7", "8")
    assert fields["work_notes"].kind == "text"
    assert fields["sys_updated_on"].writable is False
    assert "u_incident_io_id" in fields  # incident's own columns as well as task's
    assert "type" not in fields  # change_request's own column: another table's
    assert asked and asked[0].query["sysparm_query"].startswith("nameINincident,task^")
