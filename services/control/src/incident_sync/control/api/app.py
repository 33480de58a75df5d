"""The control API application: the route table, the services, the seed on startup."""

from __future__ import annotations

import logging

from aiohttp import web
from redis.asyncio import Redis

from incident_sync.control.api import (
    admin,
    backfill,
    dlq,
    explain,
    fieldcheck,
    fields,
    linkjobs,
    links,
    ownership,
    sync,
    syncstatus,
)
from incident_sync.control.api import conflicts as conf
from incident_sync.control.api import integrations as integ
from incident_sync.control.api import quarantine as qr
from incident_sync.control.api import reconcile as rec
from incident_sync.control.api import timeline as tl
from incident_sync.control.api.context import Services
from incident_sync.control.api.models import (
    AuditList,
    AuditQuery,
    ConflictList,
    ConflictQuery,
    ConflictResolve,
    ConnectionTest,
    Deleted,
    ErrorBody,
    FieldMapsCheck,
    FieldMapsChecked,
    IntegrationCreate,
    IntegrationList,
    IntegrationPatch,
    IntegrationSpec,
    IntegrationView,
    KeyStatus,
    OwnershipRule,
    OwnershipView,
    PlatformSpec,
    RotationResult,
    SyncQuery,
    SyncRequested,
    SyncStatus,
    SyncStatusList,
    TokenCreate,
    TokenCreated,
    TokenList,
    WhoAmI,
)
from incident_sync.control.api.routing import API, Route, allowed_methods, dispatch
from incident_sync.control.auth import Tokens
from incident_sync.control.console.app import add_console
from incident_sync.control.policy import Policy
from incident_sync.control.settings import ControlSettings
from incident_sync.controlstore.crypto import Keyring
from incident_sync.controlstore.records import seal
from incident_sync.controlstore.store import Actor, ControlStore
from incident_sync.runtime.configfiles import MappingDirectory, load_config
from incident_sync.runtime.webapp import service_app
from incident_sync.syncmodel.config import IntegrationConfig
from incident_sync.syncmodel.discovered import FieldList
from incident_sync.syncstate.backfilljobs import BackfillJob
from incident_sync.syncstate.client import connect
from incident_sync.syncstate.conflicts import ConflictRecord
from incident_sync.syncstate.dlq import DlqEntry
from incident_sync.syncstate.linkjobs import LinkJob
from incident_sync.syncstate.quarantine import QuarantinedMessage, QuarantineEntry
from incident_sync.syncstate.reconcile import ReconcileRun

log = logging.getLogger("control")

FIELD_MAPS_CHECKED = (
    "A request giving `field_maps` is checked against both tools' fields: 422 naming each "
    "problem, 502 when a tool cannot be asked."
)
T = f"{API}/tenants/{{tenant}}"
I = f"{T}/integrations/{{name}}"  # noqa: E741


def route_table() -> list[Route]:
    """Every route of the API, with the action the policy decides it by."""
    r = Route
    return [
        r("GET", f"{API}/openapi.json", "openapi.read", admin.openapi_document,
          "This document", "meta"),
        r("GET", "/health", "health.read", admin.health, "Liveness", "meta"),
        r("GET", "/ready", "health.read", admin.ready, "Readiness (Redis reachable)", "meta",
          errors=(503,)),
        r("GET", "/metrics", "metrics.read", admin.metrics, "Prometheus metrics", "meta",
          errors=()),
        r("GET", f"{API}/whoami", "whoami", admin.whoami, "The caller's role and scope", "meta",
          response=WhoAmI, errors=(401,)),
        # integrations
        r("GET", f"{T}/integrations", "integration.list", integ.list_integrations,
          "List the tenant's integrations (those the caller may read)", "integrations",
          response=IntegrationList),
        r("POST", f"{T}/integrations", "integration.create", integ.create_integration,
          "Create an integration", "integrations", body=IntegrationCreate,
          description=FIELD_MAPS_CHECKED,
          response=IntegrationView, status=201, errors=(400, 401, 403, 404, 409, 422, 502)),
        r("GET", I, "integration.read", integ.get_integration, "Get an integration",
          "integrations", response=IntegrationView),
        r("PUT", I, "integration.apply", integ.put_integration,
          "Create or replace an integration (declarative apply)", "integrations",
          description="Fields left out take their defaults; secrets and `paused` left out "
          "keep their current value; a secret set to null is cleared. " + FIELD_MAPS_CHECKED,
          body=IntegrationSpec, response=IntegrationView,
          extra_responses={201: "created"}, errors=(400, 401, 403, 404, 409, 422, 502)),
        r("PATCH", I, "integration.update", integ.patch_integration,
          "Change some fields of an integration", "integrations", body=IntegrationPatch,
          description=FIELD_MAPS_CHECKED,
          response=IntegrationView, errors=(400, 401, 403, 404, 409, 422, 502)),
        r("DELETE", I, "integration.delete", integ.delete_integration,
          "Delete an integration", "integrations", response=Deleted),
        r("POST", f"{I}/pause", "integration.pause", integ.pause_integration,
          "Pause an integration: its changes are not delivered", "integrations",
          response=IntegrationView, errors=(400, 401, 403, 404, 409, 422)),
        r("POST", f"{I}/resume", "integration.resume", integ.resume_integration,
          "Resume a paused integration", "integrations", response=IntegrationView,
          errors=(400, 401, 403, 404, 409, 422)),
        r("POST", f"{I}/test", "integration.test", syncstatus.test_integration,
          "Live connection test through the tool's connector", "integrations",
          response=ConnectionTest),
        r("GET", f"{I}/fields", "integration.fields", fields.integration_fields,
          "The fields the tool offers, read from the tool itself", "integrations",
          description="Each field's name (the tool's own, the one a mapping names), label, "
          "kind, whether it is required, its allowed values, its length limit, what a "
          "reference points to and whether it is writable, as the tool describes them now. "
          "409 when the tool type cannot list its fields; 502 when the tool cannot be "
          "reached, does not answer in time or refuses.",
          response=FieldList, errors=(400, 401, 403, 404, 409, 502)),
        r("POST", f"{I}/field-maps/check", "integration.fields", fieldcheck.check_maps,
          "Check field maps against both sides' fields, without storing them", "integrations",
          description="The problems a write of these `field_maps` would be refused for (an "
          "unknown field, a kind that does not fit, values the tool does not allow, ...), "
          "read from both tools now; empty when they hold. 409 without a platform "
          "connection or when a side cannot be asked; 502 when a tool cannot be reached.",
          body=FieldMapsCheck, response=FieldMapsChecked,
          errors=(400, 401, 403, 404, 409, 422, 502)),
        r("GET", f"{I}/ownership", "integration.read", ownership.get_ownership,
          "Field ownership rules (the tool type's defaults when none are set)", "ownership",
          response=OwnershipView),
        r("PUT", f"{I}/ownership/{{field}}", "integration.update", ownership.set_ownership,
          "Set the owner and priority of one field", "ownership", body=OwnershipRule,
          response=OwnershipView, errors=(400, 401, 403, 404, 409, 422)),
        r("DELETE", f"{I}/ownership/{{field}}", "integration.update", ownership.delete_ownership,
          "Remove one field's rule (the field becomes shared)", "ownership",
          response=OwnershipView, errors=(400, 401, 403, 404, 409, 422)),
        r("POST", f"{I}/sync", "integration.sync", sync.sync_integration,
          "Manual sync of every linked record: re-read each and push it", "sync",
          description="Each linked record is re-read through the tool's connector and its "
          "values pushed to the platform and the other linked tools, in order with its "
          "webhooks. `dry_run=true` lists the records and publishes nothing. 409 for an "
          "outbound-only integration (its records are never read).",
          query=SyncQuery, response=SyncRequested, status=202,
          extra_responses={200: "dry run"}, errors=(400, 401, 403, 404, 409, 422, 503)),
        r("POST", f"{I}/sync/{{record_id}}", "integration.sync", sync.sync_record,
          "Refresh one linked record: re-read it and push it", "sync",
          description="404 when the record is not linked, or its tool no longer has it "
          "(asked first); "
          "503 when the tool cannot be asked now, 502 when it refuses the read.",
          query=SyncQuery, response=SyncRequested, status=202,
          extra_responses={200: "dry run"}, errors=(400, 401, 403, 404, 409, 422, 502, 503)),
        r("POST", f"{I}/links", "integration.link", links.link_record,
          "Link an existing record to an existing platform incident, and sync them once",
          "sync",
          description="`record` is the reference the tool's users know (a ServiceNow "
          "number, a Jira key, a PagerDuty or Datadog id); both are read first (404 naming "
          "the one missing). The link is written both ways, audited, and the pair synced "
          "once (a refresh of the record, or of the incident for an outbound-only "
          "integration): ownership and conflict rules decide which values win. 200 "
          "`unchanged` when this pair is linked already (nothing written); 409 when the "
          "record or the incident is linked elsewhere (a link is never moved).",
          body=links.LinkRequest, response=links.LinkResult, status=201,
          extra_responses={200: "linked already: unchanged"},
          errors=(400, 401, 403, 404, 409, 422, 502, 503)),
        r("POST", f"{I}/link-jobs", "integration.link", linkjobs.request_job,
          "Queue a job that links existing incidents with existing records (or plans it)",
          "sync",
          description="The reconciler holding the integration's lease lists the platform's "
          "incidents and the integration's records made or changed within `since`, matches "
          "them `by` correlation, reference or title (a match counts only when it is the only "
          "one both ways; the rest is listed as ambiguous, never guessed), and unless "
          "`dry_run` links each pair as `POST .../links` does (audited, synced once). What "
          "is linked already is left out: a rerun links nothing new. Poll the job for its "
          "plan, counts and outcome. 409 for a tool that cannot list its records (a notifier).",
          body=linkjobs.LinkJobRequest, response=LinkJob, status=202,
          errors=(400, 401, 403, 404, 409, 422)),
        r("GET", f"{I}/link-jobs/{{job_id}}", "integration.link", linkjobs.get_job,
          "One link job: status, counts, the plan (pairs, ambiguous, unmatched), errors",
          "sync", response=LinkJob),
        r("POST", f"{I}/backfill-jobs", "integration.backfill", backfill.request_job,
          "Queue a job that makes the record of every existing incident the integration syncs",
          "sync",
          description="The reconciler holding the integration's lease lists the platform's "
          "incidents made or changed within `since`, keeps those matching the integration's "
          "trigger and `status` (open by default) that have no record there (and were not "
          "detached from it), and unless `dry_run` publishes one refresh of each delivered "
          "to this integration only: the pipeline makes each record as any create (its "
          "correlation search first, the rate limit, the DLQ). The job waits for the links "
          "and reports each incident's result; it goes on from its checkpoint after a "
          "reconciler stops, and a rerun makes nothing twice. 409 for an inbound-only "
          "integration.",
          body=backfill.BackfillRequest, response=BackfillJob, status=202,
          errors=(400, 401, 403, 404, 409, 422)),
        r("GET", f"{I}/backfill-jobs/{{job_id}}", "integration.backfill", backfill.get_job,
          "One backfill job: status, counts, each incident's result, errors",
          "sync", response=BackfillJob),
        r("GET", f"{I}/status", "status.read", syncstatus.integration_status,
          "Sync status: the pipeline's counters for this integration", "status",
          response=SyncStatus),
        r("GET", f"{T}/status", "status.list", syncstatus.tenant_status,
          "Sync status of every integration of the tenant the caller may see", "status",
          response=SyncStatusList),
        # the dead-letter queue of an integration
        r("GET", f"{I}/dlq", "dlq.read", dlq.list_dlq,
          "The integration's dead-letter queue, newest first", "dlq",
          description="Writes the delivery gave up on (the tool refused them, or every "
          "attempt of the retry ladder failed), with the reason, attempts and the tool's "
          "last answer.", query=dlq.DlqQuery, response=dlq.DlqList),
        r("POST", f"{I}/dlq/retry", "dlq.retry", dlq.retry_all,
          "Retry every entry matching a filter (or list them: dry_run)", "dlq",
          body=dlq.DlqRetryAll, response=dlq.DlqRetried, status=202,
          extra_responses={200: "dry run"}, errors=(400, 401, 403, 404, 422, 503)),
        r("POST", f"{I}/dlq/{{entry_id}}/retry", "dlq.retry", dlq.retry_entry,
          "Retry one entry: its command is delivered again, as a fresh attempt 1", "dlq",
          response=dlq.DlqRetried, status=202, errors=(400, 401, 403, 404, 503)),
        r("DELETE", f"{I}/dlq/{{entry_id}}", "dlq.discard", dlq.discard_entry,
          "Discard one entry (its write is given up)", "dlq", response=DlqEntry),
        # the quarantine: messages a stage could not process
        r("GET", f"{T}/quarantine", "quarantine.list", qr.list_quarantine,
          "The tenant's quarantine, newest first (the entries the caller may read)",
          "quarantine",
          description="Messages a stage (gate, arbiter, delivery, relay, reconciler) could "
          "not process: undecodable, a bug, a request the connector cannot build, a record "
          "too large to produce. Each with its stage, the error and where it was read; "
          "without its bytes (see one entry).",
          query=qr.QuarantineQuery, response=qr.QuarantineList),
        r("POST", f"{T}/quarantine/retry", "quarantine.retry", qr.retry_all,
          "Retry every entry matching a filter (or list them: dry_run)", "quarantine",
          body=qr.QuarantineRetryAll, response=qr.QuarantineRetried, status=202,
          extra_responses={200: "dry run"}, errors=(400, 401, 403, 404, 409, 422, 503)),
        r("GET", f"{T}/quarantine/{{quarantine_id}}", "quarantine.read", qr.get_entry,
          "One entry, with the original bytes (base64)", "quarantine",
          response=QuarantineEntry, resource=qr.quarantine_resource),
        r("POST", f"{T}/quarantine/{{quarantine_id}}/retry", "quarantine.retry",
          qr.retry_entry, "Retry one entry: its original bytes go back to the stage's input "
          "topic", "quarantine", response=qr.QuarantineRetried, status=202,
          resource=qr.quarantine_resource, errors=(400, 401, 403, 404, 409, 503)),
        r("DELETE", f"{T}/quarantine/{{quarantine_id}}", "quarantine.discard",
          qr.discard_entry, "Discard one entry (its message is given up)", "quarantine",
          response=QuarantinedMessage, resource=qr.quarantine_resource),
        # conflicts
        r("GET", f"{T}/conflicts", "conflict.list", conf.list_conflicts,
          "List conflicts (those the caller may read), newest first", "conflicts",
          query=ConflictQuery, response=ConflictList),
        r("GET", f"{T}/conflicts/{{conflict_id}}", "conflict.read", conf.get_conflict,
          "One conflict: the field, both sides' values and times, status, resolution",
          "conflicts", response=ConflictRecord, resource=conf.conflict_resource),
        r("POST", f"{T}/conflicts/{{conflict_id}}/resolve", "conflict.resolve",
          conf.resolve_conflict, "Settle a pending conflict", "conflicts",
          description="The resolution travels the pipeline in order with the incident's "
          "other changes; the record is marked resolved at once.",
          body=ConflictResolve, response=ConflictRecord, status=202,
          resource=conf.conflict_resource, errors=(400, 401, 403, 404, 409, 422, 503)),
        r("GET", f"{T}/incidents/{{ref}}/timeline", "incident.timeline", tl.get_timeline,
          "An incident's timeline: every decision the pipeline made about it", "incidents",
          description="`ref`: the platform incident's id, a linked record's id in any "
          "integration, or a reference the pipeline saw (a ServiceNow number). Entries oldest "
          "first, within TIMELINE_MAX_ENTRIES and TIMELINE_RETENTION_S.",
          query=tl.TimelineQuery, response=tl.IncidentTimeline,
          resource=tl.timeline_resource),
        r("GET", f"{T}/incidents/{{ref}}/explain", "incident.timeline", explain.get_explanation,
          "Why one field holds what it holds on each side of an incident", "incidents",
          description="`ref` as for the timeline; `field`: a canonical field, a tool's alias "
          "of one or a platform custom field (`custom.<name>`). One sentence per side (the "
          "platform's, then the linked ones), read from the incident's timeline: written by "
          "us from which edit, an edit not taken in (ownership, direction, mapping), an echo "
          "dropped, a conflict parked or resolved, healed by the reconciler; with the value "
          "the pipeline last knew there. The timeline's policy action and retention.",
          query=explain.ExplainQuery, response=explain.IncidentExplanation,
          resource=tl.timeline_resource),
        # reconciliation
        r("POST", f"{I}/reconcile", "reconcile.run", rec.request_run,
          "Queue a reconcile run (dry-run or auto-heal) for the reconciler", "reconcile",
          description="The reconciler holding the integration's lease runs it within a "
          "moment; poll the run for its outcome.",
          body=rec.ReconcileRequest, response=ReconcileRun, status=202),
        r("GET", f"{I}/reconcile/runs", "reconcile.read", rec.list_runs,
          "Reconcile history: runs, newest first", "reconcile", query=rec.HistoryQuery,
          response=rec.RunList),
        r("GET", f"{I}/reconcile/runs/{{run_id}}", "reconcile.read", rec.get_run,
          "One reconcile run: status, duration, discrepancies, fixes, requests per side",
          "reconcile", response=ReconcileRun),
        r("GET", f"{I}/reconcile/schedule", "reconcile.read", rec.get_schedule,
          "The integration's reconcile schedule", "reconcile", response=rec.ScheduleView),
        r("POST", f"{I}/reconcile/schedule", "reconcile.schedule", rec.set_schedule,
          "Set the reconcile schedule: interval, auto_heal, enabled, on_missing", "reconcile",
          body=rec.ScheduleRequest, response=rec.ScheduleView),
        # platform connection
        r("GET", f"{T}/platform", "platform.read", integ.get_platform,
          "The tenant's platform connection", "platform", response=IntegrationView),
        r("GET", f"{T}/platform/fields", "platform.fields", fields.platform_fields,
          "The platform's fields: its built-in fields and custom fields with their options",
          "platform",
          description="Built-in fields by their canonical names, custom fields as "
          "`custom.<name>` (those the connection's options bind to priority and comment by "
          "those names). 409 when the platform's type cannot list its fields; 502 when it "
          "cannot be reached, does not answer in time or refuses.",
          response=FieldList, errors=(400, 401, 403, 404, 409, 502)),
        r("PUT", f"{T}/platform", "platform.write", integ.put_platform,
          "Create or replace the tenant's platform connection", "platform",
          body=PlatformSpec, response=IntegrationView, extra_responses={201: "created"},
          errors=(400, 401, 403, 404, 409, 422)),
        # audit
        r("GET", f"{T}/audit", "audit.read", admin.tenant_audit,
          "The tenant's audit trail, newest first", "audit", query=AuditQuery,
          response=AuditList),
        r("GET", f"{API}/audit", "system.audit.read", admin.system_audit,
          "Token and key actions, newest first", "audit", query=AuditQuery,
          response=AuditList),
        # tokens and keys
        r("GET", f"{API}/tokens", "token.list", admin.list_tokens, "List API tokens",
          "tokens", response=TokenList),
        r("POST", f"{API}/tokens", "token.create", admin.create_token,
          "Create an API token (shown once)", "tokens", body=TokenCreate,
          response=TokenCreated, status=201),
        r("DELETE", f"{API}/tokens/{{token_id}}", "token.revoke", admin.revoke_token,
          "Revoke an API token", "tokens", response=Deleted),
        r("GET", f"{API}/keys", "keys.read", admin.key_status,
          "Encryption keys in use and what each seals", "keys", response=KeyStatus),
        r("POST", f"{API}/keys/rotate", "keys.rotate", admin.rotate_keys,
          "Re-seal every secret under the primary key", "keys", response=RotationResult,
          errors=(401, 403, 409)),
    ]  # fmt: skip


async def seed(store: ControlStore, path: str, mappings_dir: str) -> int:
    """Import a sides file into the store for each tenant that has no platform yet; each
    `mapping_file` names a file in `mappings_dir`."""
    config = load_config(path, mappings_dir=mappings_dir)
    who = Actor("seed", "seed", "")
    imported = 0
    for kind, side in [("platform", config.platform)] + [
        ("integration", i) for i in config.integrations
    ]:
        if await store.platform(side.tenant) is not None and kind == "platform":
            continue
        if kind == "integration" and await store.integration(side.tenant, side.id) is not None:
            continue
        inline = _inline_mapping(side)
        sealed = seal(
            inline, store.keyring, kind="platform" if kind == "platform" else "integration"
        )
        await store.write(
            side.tenant,
            sealed.kind,
            side.id,
            lambda before, s=sealed: s if before is None else before,  # type: ignore[misc]
            who,
            f"{kind}.seed",
        )
        imported += 1
    log.info("seeded the control store", extra={"file": path, "sides": imported})
    return imported


def _inline_mapping(side: IntegrationConfig) -> IntegrationConfig:
    """The store is read by pods that may not have the mapping file: carry its content (read
    by `load_config`) instead of its name."""
    if side.mapping_file and side.field_map is not None:
        return side.model_copy(update={"mapping_file": None})
    return side


def build_app(settings: ControlSettings, redis: Redis | None = None) -> web.Application:
    if settings.encryption_keys is None:
        raise SystemExit(
            "CONTROL_ENCRYPTION_KEYS is not set: generate a key with `im keys generate`"
        )
    keyring = Keyring.from_text(settings.encryption_keys.get_secret_value())
    own_redis = redis is None
    client = redis or connect(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    bootstrap = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
    services = Services(
        settings=settings,
        redis=client,
        keyring=keyring,
        store=ControlStore(client, keyring),
        tokens=Tokens(client, bootstrap),
        policy=Policy(settings.policy_file),
        mappings=MappingDirectory(settings.mappings_dir),
    )
    services.routes = route_table()
    # /health, /ready and /metrics are routes of the table: they pass the policy.
    app = service_app(
        client_max_size=256 * 1024,
        probes=False,
        allowed_methods=lambda path: allowed_methods(services.routes, path),
    )
    for route in services.routes:
        app.router.add_route(route.method, route.path, dispatch(route, services))
    # The web console: HTML pages over the same handlers (not API routes: not in the document).
    add_console(app, services)

    async def startup(app: web.Application) -> None:
        if settings.seed_file:
            await seed(services.store, settings.seed_file, settings.mappings_dir)

    async def cleanup(app: web.Application) -> None:
        await services.aclose()
        if own_redis:
            await client.aclose()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return app


__all__ = ["ErrorBody", "build_app", "route_table"]
