"""Records that incident columns reference, seeded as a small instance has them: assignment
groups (`sys_user_group`) and configuration items (`cmdb_ci`), each with a stable sys_id and
its display value in `name` (what the reference's display value shows)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Final

GROUPS: Final = ("Service Desk", "Database", "Network", "Payments Support", "Search Support")
CONFIGURATION_ITEMS: Final = ("payments-api", "search-cluster", "checkout-web")
SEEDED: Final[Mapping[str, tuple[str, ...]]] = {
    "sys_user_group": GROUPS,
    "cmdb_ci": CONFIGURATION_ITEMS,
}


def sys_id_of(table: str, name: str) -> str:
    """The seeded record's stable sys_id (tests name records by it)."""
    return hashlib.sha256(f"{table}:{name}".encode()).hexdigest()[:32]


def seeded_rows(table: str, blank: Mapping[str, str]) -> Iterator[dict[str, str]]:
    for name in SEEDED.get(table, ()):
        yield {**blank, "sys_id": sys_id_of(table, name), "name": name, "active": "true"}
