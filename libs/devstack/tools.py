"""A person's hands on the sandbox tools: what the demo and the end-to-end tests do there.

Everything goes over HTTP: the UI-like `/_sandbox` endpoints act as a human would, the
vendor APIs are read as any client would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from devstack.stack import SN_HUMAN, SN_HUMAN_PASSWORD, Stack

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout_s: float = 30.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what or check}")
        time.sleep(0.1)


class Tools:
    def __init__(self, stack: Stack) -> None:
        self.io = httpx.Client(base_url=stack.url("incidentio"), timeout=10.0)
        self.sn = httpx.Client(
            base_url=stack.url("servicenow"), timeout=10.0, auth=(SN_HUMAN, SN_HUMAN_PASSWORD)
        )
        self.ingress = httpx.Client(
            base_url=stack.url("ingress"),
            timeout=10.0,
            headers={"Authorization": f"Bearer {stack.sync_token}"},
        )

    def close(self) -> None:
        for client in (self.io, self.sn, self.ingress):
            client.close()

    # -- incident.io, as a responder in the UI ------------------------------------------------
    def declare(self, name: str, summary: str, **extra: Any) -> dict[str, Any]:
        r = self.io.post("/_sandbox/incidents", json={"name": name, "summary": summary, **extra})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        incident: dict[str, Any] = body.get("incident", body)
        return incident

    def edit_incident(self, incident_id: str, **fields: Any) -> None:
        self.io.post(f"/_sandbox/incidents/{incident_id}/edit", json=fields).raise_for_status()

    def incident(self, incident_id: str) -> dict[str, Any]:
        r = self.io.get(f"/_sandbox/incidents/{incident_id}")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        incident: dict[str, Any] = body.get("incident", body)
        return incident

    def io_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.io.get("/_sandbox/stats").json()
        return stats

    # -- ServiceNow, as an agent in the UI ------------------------------------------------------
    def snow_records_for(self, incident_id: str) -> list[dict[str, Any]]:
        r = self.sn.get(
            "/api/now/table/incident",
            params={
                "sysparm_query": f"u_incident_io_id={incident_id}",
                "sysparm_exclude_reference_link": "true",
            },
        )
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()["result"]
        return result

    def snow_record(self, sys_id: str) -> dict[str, Any]:
        r = self.sn.get(f"/_sandbox/table/incident/{sys_id}")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        record: dict[str, Any] = body.get("result", body)
        return record

    def edit_snow(self, sys_id: str, **fields: Any) -> None:
        self.sn.patch(f"/_sandbox/table/incident/{sys_id}", json=fields).raise_for_status()

    def sn_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.sn.get("/_sandbox/stats").json()
        return stats

    def drop_webhooks(self, tool: str, ratio: float, seed: int | None = None) -> None:
        """Make a tool lose a share of its webhooks (1.0: edits behind the service's back)."""
        client = self.io if tool == "incidentio" else self.sn
        client.post(
            "/_sandbox/faults", json={"drop_webhooks": ratio, "seed": seed}
        ).raise_for_status()

    def api_writes(self, tool: str, record_id: str) -> int:
        stats = self.io_stats() if tool == "incidentio" else self.sn_stats()
        return int(stats.get("api_writes", {}).get(record_id, 0))

    def quiesce(self, timeout_s: float = 20.0, settle_s: float = 1.0) -> None:
        """Wait until neither tool has webhooks in flight and nothing changed for `settle_s`."""

        def snapshot() -> tuple[Any, ...]:
            io, sn = self.io_stats(), self.sn_stats()
            return (
                io.get("webhooks_pending"),
                sn.get("webhooks_pending"),
                io.get("webhooks_sent"),
                sn.get("webhooks_sent"),
                sum(io.get("api_writes", {}).values()),
                sum(sn.get("api_writes", {}).values()),
            )

        deadline = time.monotonic() + timeout_s
        last, since = snapshot(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = snapshot()
            if now != last:
                last, since = now, time.monotonic()
            elif now[0] == 0 and now[1] == 0 and time.monotonic() - since >= settle_s:
                return
        raise TimeoutError("the tools did not settle")
