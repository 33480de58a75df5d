"""A person's hands on the sandbox tools: what the demo and the end-to-end tests do there.

Everything goes over HTTP: the UI-like `/_sandbox` endpoints act as a human would, the
vendor APIs are read as any client would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from incident_sync.devstack.optional import DD_API_KEY, DD_APP_KEY
from incident_sync.devstack.stack import SN_HUMAN, SN_HUMAN_PASSWORD, Stack

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
        # The optional tools, as a person in their UIs (`/_sandbox`) or any API client.
        self.jira = self._client(stack, "jira")
        self.pd = self._client(stack, "pagerduty")
        self.dd = self._client(stack, "datadog")
        self.slack = self._client(stack, "slack")
        self.ingress = httpx.Client(
            base_url=stack.url("ingress"),
            timeout=10.0,
            headers={"Authorization": f"Bearer {stack.sync_token}"},
        )

    def close(self) -> None:
        for client in (self.io, self.sn, self.ingress, self.jira, self.pd, self.dd, self.slack):
            if client is not None:
                client.close()

    def _sandboxes(self) -> dict[str, httpx.Client]:
        out = {"incidentio": self.io, "servicenow": self.sn}
        if self.jira is not None:
            out["jira"] = self.jira
        if self.pd is not None:
            out["pagerduty"] = self.pd
        if self.dd is not None:
            out["datadog"] = self.dd
        if self.slack is not None:
            out["slack"] = self.slack
        return out

    @staticmethod
    def _client(stack: Stack, tool: str) -> httpx.Client | None:
        if tool not in stack.tools:
            return None
        return httpx.Client(base_url=stack.url(tool), timeout=10.0)

    # -- Datadog, as a responder; Slack, as someone reading the channel ------------------------
    def dd_incidents_for(self, incident_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._ui(
            self.dd,
            "GET",
            f'/_sandbox/search?query=incident_sync_id:"{incident_id}"',
        )
        return found

    def create_dd(self, title: str) -> dict[str, Any]:
        """An incident a person declares in Datadog (through its API, as its UI does)."""
        if self.dd is None:
            raise RuntimeError("that tool is not part of this stack")
        keys = {"DD-API-KEY": DD_API_KEY, "DD-APPLICATION-KEY": DD_APP_KEY}
        body = {"data": {"type": "incidents", "attributes": {"title": title}}}
        r = self.dd.post("/api/v2/incidents", json=body, headers=keys)
        r.raise_for_status()
        incident: dict[str, Any] = r.json()["data"]
        return incident

    def edit_dd(self, dd_id: str, **fields: Any) -> None:
        """title, state (active/stable/resolved), severity (SEV-n), summary."""
        self._ui(self.dd, "PATCH", f"/_sandbox/incidents/{dd_id}", **fields)

    def slack_messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._ui(self.slack, "GET", "/_sandbox/messages")["messages"]
        return found

    def stats(self, tool: str) -> dict[str, Any]:
        stats: dict[str, Any] = self._sandboxes()[tool].get("/_sandbox/stats").json()
        return stats

    # -- Jira, as an agent in the UI -----------------------------------------------------------
    def _ui(self, client: httpx.Client | None, method: str, path: str, **body: Any) -> Any:
        if client is None:
            raise RuntimeError("that tool is not part of this stack")
        r = client.request(method, path, json=body if body else None)
        r.raise_for_status()
        return r.json() if r.content else None

    def jira_issues_for(self, incident_id: str) -> list[dict[str, Any]]:
        issues: list[dict[str, Any]] = self._ui(
            self.jira, "GET", f"/_sandbox/issues?label=incident-sync-{incident_id}"
        )["issues"]
        return issues

    def create_jira(self, **fields: Any) -> dict[str, Any]:
        """An issue a person raises in Jira (`summary`, `description`, `labels`, ...)."""
        issue: dict[str, Any] = self._ui(self.jira, "POST", "/_sandbox/issues", **fields)
        return issue

    def jira_issue(self, issue_id: str) -> dict[str, Any]:
        issue: dict[str, Any] = self._ui(self.jira, "GET", f"/_sandbox/issues/{issue_id}")
        return issue

    def edit_jira(self, issue_id: str, **fields: Any) -> None:
        """summary, description, priority (name), assignee (e-mail), status (name), user."""
        self._ui(self.jira, "POST", f"/_sandbox/issues/{issue_id}/edit", **fields)

    def comment_jira(self, issue_id: str, body: str, **extra: Any) -> str:
        created = self._ui(
            self.jira, "POST", f"/_sandbox/issues/{issue_id}/comments", body=body, **extra
        )
        return str(created["id"])

    def edit_jira_comment(self, issue_id: str, comment_id: str, body: str) -> None:
        self._ui(self.jira, "PUT", f"/_sandbox/issues/{issue_id}/comments/{comment_id}", body=body)

    def delete_jira_comment(self, issue_id: str, comment_id: str) -> None:
        self._ui(self.jira, "DELETE", f"/_sandbox/issues/{issue_id}/comments/{comment_id}")

    def delete_jira(self, issue_id: str) -> None:
        self._ui(self.jira, "DELETE", f"/_sandbox/issues/{issue_id}")

    # -- PagerDuty, as a responder in the UI ---------------------------------------------------
    def pd_incidents_for(self, incident_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._ui(
            self.pd, "GET", f"/_sandbox/incidents?incident_key=incident-sync-{incident_id}"
        )["incidents"]
        return found

    def create_pd(self, **fields: Any) -> dict[str, Any]:
        """An incident a responder triggers in PagerDuty (`title`, `incident_key`, ...)."""
        incident: dict[str, Any] = self._ui(self.pd, "POST", "/_sandbox/incidents", **fields)
        return incident

    def pd_incident(self, pd_id: str) -> dict[str, Any]:
        incident: dict[str, Any] = self._ui(self.pd, "GET", f"/_sandbox/incidents/{pd_id}")
        return incident

    def edit_pd(self, pd_id: str, **fields: Any) -> None:
        """title, status, priority (name), assignee (e-mail), escalation_policy (name), user."""
        self._ui(self.pd, "POST", f"/_sandbox/incidents/{pd_id}/edit", **fields)

    def set_pd_custom_fields(self, pd_id: str, **values: Any) -> None:
        """A responder sets incident custom field values, by field name."""
        self._ui(self.pd, "POST", f"/_sandbox/incidents/{pd_id}/custom_fields", values=values)

    def note_pd(self, pd_id: str, content: str) -> None:
        self._ui(self.pd, "POST", f"/_sandbox/incidents/{pd_id}/notes", content=content)

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

    def create_snow(self, **fields: Any) -> dict[str, Any]:
        """A ticket an agent opens in the UI (not linked to any incident): the record."""
        r = self.sn.post("/_sandbox/table/incident", json=fields)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        record: dict[str, Any] = body.get("result", body)
        return record

    def edit_snow(self, sys_id: str, **fields: Any) -> None:
        self.sn.patch(f"/_sandbox/table/incident/{sys_id}", json=fields).raise_for_status()

    def delete_snow(self, sys_id: str) -> None:
        self.sn.delete(f"/_sandbox/table/incident/{sys_id}").raise_for_status()

    def sn_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.sn.get("/_sandbox/stats").json()
        return stats

    def drop_webhooks(self, tool: str, ratio: float, seed: int | None = None) -> None:
        """Make a tool lose a share of its webhooks (1.0: edits behind the service's back)."""
        client = self._sandboxes()[tool]
        client.post(
            "/_sandbox/faults", json={"drop_webhooks": ratio, "seed": seed}
        ).raise_for_status()

    def webhook_storm(self, tool: str, **storm: Any) -> None:
        """Make a tool send every webhook several times, late and out of order
        (`sandbox.storm`: copies, min_delay_s, max_delay_s, fresh_ids, seed); none: stop."""
        client = self._sandboxes()[tool]
        client.post("/_sandbox/faults", json={"webhook_storm": storm or None}).raise_for_status()

    def custom_value(self, incident_id: str, name: str) -> str | None:
        """The incident's value of the custom field called `name`: a selected option's value,
        a catalog entry's name or the text; None when it has none."""
        for entry in self.incident(incident_id).get("custom_field_entries") or []:
            if entry["custom_field"]["name"] == name and entry["values"]:
                value = entry["values"][0]
                option, entry = value.get("value_option"), value.get("value_catalog_entry")
                if option:
                    return str(option["value"])
                return str(entry["name"]) if entry else value.get("value_text")
        return None

    def platform_notes(self, incident_id: str) -> str | None:
        """What incident-sync wrote to the incident's "External work notes" field."""
        for entry in self.incident(incident_id).get("custom_field_entries") or []:
            if entry["custom_field"]["name"] == "External work notes" and entry["values"]:
                return str(entry["values"][0].get("value_text"))
        return None

    def api_faults(self, tool: str, **faults: Any) -> None:
        """Make a tool's API fail (see `sandbox.faults`); no arguments: no faults."""
        client = self._sandboxes()[tool]
        client.post("/_sandbox/api-faults", json=faults).raise_for_status()

    def api_requests(self, tool: str) -> list[dict[str, Any]]:
        """Every API call the tool answered: time, method, path, status."""
        found: list[dict[str, Any]] = (
            self._sandboxes()[tool].get("/_sandbox/api-faults").json()["requests"]
        )
        return found

    def api_writes(self, tool: str, record_id: str) -> int:
        return int(self.stats(tool).get("api_writes", {}).get(record_id, 0))

    def quiesce(self, timeout_s: float = 20.0, settle_s: float = 1.0) -> None:
        """Wait until neither tool has webhooks in flight and nothing changed for `settle_s`."""

        def snapshot() -> tuple[tuple[Any, ...], bool]:
            values: list[Any] = []
            idle = True
            for tool in self._sandboxes():
                stats = self.stats(tool)
                idle = idle and stats.get("webhooks_pending") == 0
                values += [
                    stats.get("webhooks_pending"),
                    stats.get("webhooks_sent"),
                    sum(stats.get("api_writes", {}).values()),
                ]
            return tuple(values), idle

        deadline = time.monotonic() + timeout_s
        last, since = snapshot()[0], time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now, idle = snapshot()
            if now != last:
                last, since = now, time.monotonic()
            elif idle and time.monotonic() - since >= settle_s:
                return
        raise TimeoutError("the tools did not settle")
