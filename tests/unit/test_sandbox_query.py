"""Encoded-query parsing and matching of the ServiceNow sandbox (pure, no I/O)."""

from incident_sync.sandbox.servicenow.query import parse

COLUMNS = frozenset({"state", "priority", "short_description", "number", "sys_updated_on"})
ROWS = [
    {"number": "INC1", "state": "1", "priority": "3", "short_description": "DB down",
     "sys_updated_on": "2024-01-01 10:00:00"},
    {"number": "INC2", "state": "2", "priority": "1", "short_description": "Disk full",
     "sys_updated_on": "2024-01-02 10:00:00"},
    {"number": "INC3", "state": "6", "priority": "10", "short_description": "db slow",
     "sys_updated_on": "2024-01-03 10:00:00"},
]  # fmt: skip


def numbers(query: str) -> list[str]:
    return [r["number"] for r in parse(query, COLUMNS).apply(ROWS)]


def test_operators():
    assert numbers("state=1") == ["INC1"]
    assert numbers("state!=1") == ["INC2", "INC3"]
    assert numbers("stateIN1,6") == ["INC1", "INC3"]
    assert numbers("stateNOT IN1,6") == ["INC2"]
    assert numbers("short_descriptionLIKEdb") == ["INC1", "INC3"]
    assert numbers("short_descriptionSTARTSWITHdisk") == ["INC2"]
    assert numbers("sys_updated_on>=2024-01-02 10:00:00") == ["INC2", "INC3"]
    assert numbers("sys_updated_on>2024-01-02 10:00:00") == ["INC3"]
    assert numbers("sys_updated_on<2024-01-02 10:00:00") == ["INC1"]
    assert numbers("priority<=3") == ["INC1", "INC2"]  # numeric, not "10" < "3"


def test_and_or_and_new_query():
    assert numbers("state=1^ORstate=2^priority=1") == ["INC2"]
    assert numbers("state=1^NQstate=6") == ["INC1", "INC3"]
    assert numbers("state=1^short_descriptionLIKEdisk") == []


def test_order_by_and_ignored_parts():
    assert numbers("ORDERBYDESCnumber") == ["INC3", "INC2", "INC1"]
    assert numbers("ORDERBYpriority") == ["INC2", "INC1", "INC3"]
    assert numbers("unknown_field=1^state=2") == ["INC2"]  # invalid parts are ignored
    assert numbers("") == ["INC1", "INC2", "INC3"]
