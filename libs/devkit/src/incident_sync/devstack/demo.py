"""`im dev up`: the whole system locally, a scripted round trip, then it keeps running."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click
import httpx

from incident_sync.devstack.stack import SN_USER, Stack
from incident_sync.devstack.tools import Tools, wait_for


def say(text: str) -> None:
    click.echo(text)


def round_trip(stack: Stack, tools: Tools) -> None:
    say("\n1. A responder declares an incident in incident.io (sandbox UI)")
    incident = tools.declare("Checkout API returns 500s", "Error rate above 20% since 14:02")
    iid = incident["id"]
    say(f"   incident.io {incident.get('reference', '')} id={iid}")

    say("2. incident-sync creates the ServiceNow ticket")
    say("   (webhook -> ingress -> Kafka -> gate -> arbiter -> delivery -> Table API)")
    records = wait_for(lambda: tools.snow_records_for(iid), 30, "the ServiceNow ticket")
    sys_id = records[0]["sys_id"]
    say(f"   ServiceNow {records[0]['number']} sys_id={sys_id}")
    say(f"   short_description = {records[0]['short_description']!r}")

    say("3. An agent edits the ticket in ServiceNow (sandbox UI)")
    tools.edit_snow(sys_id, short_description="Checkout API 500s: DB connection pool exhausted")

    def renamed() -> dict[str, Any] | None:
        current = tools.incident(iid)
        return current if current["name"].startswith("Checkout API 500s:") else None

    current = wait_for(renamed, 30, "the incident.io rename")
    say(f"   incident.io name   = {current['name']!r}")

    say("4. A responder posts an update in incident.io")
    tools.edit_incident(iid, update_message="Pool size raised from 20 to 80; watching")

    def noted() -> list[Any] | None:
        notes = tools.snow_record(sys_id).get("work_notes_entries") or []
        return notes or None

    notes = wait_for(noted, 30, "the ServiceNow work note")
    say(f"   ServiceNow work note: {notes[-1].get('value', notes[-1])!r}")

    tools.quiesce()
    say("5. No loop: every write above came back as an echo webhook and was dropped")
    say(
        f"   API writes to the ServiceNow ticket: {tools.api_writes('servicenow', sys_id)} "
        f"(1 create + 1 work note; as {SN_USER})"
    )
    say(
        f"   API writes to the incident.io incident: {tools.api_writes('incidentio', iid)} "
        "(1 rename)"
    )

    say("6. The ticket is edited while its webhooks are lost; the reconciler finds and heals it")
    tools.drop_webhooks("servicenow", 1.0)
    tools.edit_snow(sys_id, description="Root cause: connection leak in the payment client")
    tools.drop_webhooks("servicenow", 0.0)
    for mode in ("dry-run", "auto-heal"):
        run = reconcile(stack, mode)
        for d in run["discrepancies"]:
            say(f"   {mode}: {d['field']} differs ({d['heal']}): {d['external_value']!r}")
    wait_for(lambda: tools.incident(iid).get("summary", "").startswith("Root"), 30, "the heal")
    say(f"   incident.io summary = {tools.incident(iid)['summary']!r}")


def reconcile(stack: Stack, mode: str) -> dict[str, Any]:
    """What `im integration reconcile prod-snow --<mode>` does: ask, then wait for the run."""
    path = f"{stack.url('control')}/api/v1/tenants/default/integrations/prod-snow/reconcile"
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    run: dict[str, Any] = httpx.post(path, json={"mode": mode}, headers=auth).json()

    def done() -> dict[str, Any] | None:
        got: dict[str, Any] = httpx.get(f"{path}/runs/{run['id']}", headers=auth).json()
        return got if got["status"] in ("succeeded", "failed") else None

    return wait_for(done, 30, "the reconcile run")


def run(demo: bool = True, redis_cluster: bool = False) -> None:
    # The polling fallback every minute: an edit whose webhook is lost still arrives.
    stack = Stack(extra_env={"RECONCILE_POLL_INTERVAL_S": "60"}, redis_cluster=redis_cluster)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    say(f"starting broker, redis-server, sandboxes and services (logs in {stack.workdir})")
    try:
        stack.start()
        say(f"  ingress          {stack.url('ingress')}  (/webhook, /webhook/servicenow, /metrics)")
        say(f"  incident.io      {stack.url('incidentio')}  (sandbox, API key {stack.api_key})")
        say(f"  ServiceNow       {stack.url('servicenow')}  (sandbox, user john.smith)")
        say(f"  outbound worker  {stack.url('outbound')}  (/metrics)")
        say(f"  reconciler       {stack.url('reconciler')}  (/status, /metrics)")
        say(f"  control API      {stack.url('control')}/api/v1  (OpenAPI: /api/v1/openapi.json)")
        say(f"  Kafka {stack.kafka_bootstrap}   Redis {stack.redis_url}")
        say(
            f"  manual sync: IM_INGRESS_URL={stack.url('ingress')} "
            f"SYNC_API_TOKEN={stack.sync_token} im sync incident <id>"
        )
        say("  the im CLI, as platform.administrator:")
        say(f"    export IM_API_URL={stack.url('control')} IM_TOKEN={stack.admin_token}")
        say("    im integration list; im integration sync-status prod-snow; im audit")
        say("    im integration reconcile prod-snow --dry-run")
        say("    im integration reconcile history prod-snow")
        if demo:
            tools = Tools(stack)
            try:
                round_trip(stack, tools)
            finally:
                tools.close()
        say("\nrunning; Ctrl-C stops everything")
        while not stopping.wait(1.0):
            for child in stack.children:
                if not child.running:
                    say(f"{child.name} exited unexpectedly:\n{child.log_tail()}")
                    sys.exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping...")
        stack.stop()
