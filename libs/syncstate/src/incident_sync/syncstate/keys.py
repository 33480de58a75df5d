"""Every Redis key the project uses, built in one place.

A tenant's keys start with `is:{tenant}:` (`tenant_prefix`): the tenant in braces is the key's
hash tag, so on Redis Cluster every key of a tenant hashes to the same slot. The few
cluster-wide keys (API tokens and their lookups, the tenant index, the system audit, the rate
limiter's windows) carry no tag and spread over the cluster. Every other module asks this one
for its keys, and a Lua script is handed every key it touches as KEYS (none is built inside a
script), so the layout can be read, and changed, here alone.

The rule callers keep (docs/architecture.md, "State in Redis"): the keys a multi-key command, a
MULTI/EXEC transaction or a script touches together belong to one tenant; a cluster-wide key
is only ever touched by a command of its own. (Plain pipelines may mix: redis-py splits them
by node on a cluster.)
"""

from __future__ import annotations

from typing import Final

from incident_sync.syncmodel.echo import fingerprint

NAMESPACE: Final = "is"

# -- cluster-wide (one key per command) ------------------------------------------------------
TENANTS: Final = f"{NAMESPACE}:ctl:tenants"  # set of tenants that have config
TOKENS: Final = f"{NAMESPACE}:ctl:tokens"  # hash token id -> token record (hash of the secret)
SYSTEM_AUDIT: Final = f"{NAMESPACE}:ctl:audit"  # stream: token and key actions
# The rate limiter's windows: `limits` lays them out under this prefix (one key per window,
# `{prefix}:LIMITER/{tenant}/{integration}/...`, each command and script on one key).
RATE_LIMITS: Final = f"{NAMESPACE}:limits"
# The outbound workers' consumer-group lag, one for the deployment (`syncstate.health`).
CONSUMER_LAG: Final = f"{NAMESPACE}:ctl:consumerlag"


def token_by_hash(digest: str) -> str:
    """The id of the token whose secret hashes to `digest`."""
    return f"{NAMESPACE}:ctl:tokenhash:{digest}"


def console_session(digest: str) -> str:
    """A web console session, by the SHA-256 of its cookie's value (a reader of Redis cannot
    take the session over)."""
    return f"{NAMESPACE}:ctl:console:{digest}"


def tenant_prefix(tenant: str) -> str:
    """What every key of the tenant starts with: `is:{tenant}:`, the tenant as the key's hash
    tag, so Redis Cluster keeps all of a tenant's keys in one slot."""
    if not tenant or "{" in tenant or "}" in tenant:
        # A brace would move the hash tag; an empty tag would hash the whole key.
        raise ValueError(f"not a tenant id: {tenant!r}")
    return f"{NAMESPACE}:{{{tenant}}}:"


# -- the control store (`controlstore`) -------------------------------------------------------
def integrations(tenant: str) -> str:
    """Hash of the tenant's integrations: name -> record (JSON, secrets sealed)."""
    return f"{tenant_prefix(tenant)}ctl:integrations"


def platform(tenant: str) -> str:
    return f"{tenant_prefix(tenant)}ctl:platform"


def version(tenant: str) -> str:
    """Bumped by every change to the tenant's sides; running services reload on a change."""
    return f"{tenant_prefix(tenant)}ctl:version"


def audit(tenant: str) -> str:
    return f"{tenant_prefix(tenant)}ctl:audit"


def stats(tenant: str, integration_id: str) -> str:
    """Hash of the pipeline's counters for one side (`controlstore.stats`)."""
    return f"{tenant_prefix(tenant)}stats:{integration_id}"


def breakers(tenant: str, integration_id: str) -> str:
    """Hash: worker -> its circuit breaker for the integration, as its gauges last reported it
    (`syncstate.health`; a dead worker's field is pruned, the key expires with the last)."""
    return f"{tenant_prefix(tenant)}breakers:{integration_id}"


def conflict_counted(tenant: str, conflict_id: str) -> str:
    """Set once the conflict's operator resolution has been counted."""
    return f"{tenant_prefix(tenant)}conflict:{conflict_id}:counted"


# -- a record, its links and what the pipeline knows of it (`outbound.state`) --------------------
def seen(tenant: str, scope: str, key: str) -> str:
    """A dedupe mark (TTL)."""
    return f"{tenant_prefix(tenant)}seen:{scope}:{key}"


def state(tenant: str, side: str, record_id: str) -> str:
    """Hash: the record's last known values and their bookkeeping (`outbound.recordstate`)."""
    return f"{tenant_prefix(tenant)}state:{side}:{record_id}"


def ours(tenant: str, side: str, record_id: str) -> str:
    """Hash: version -> the fields our write set at that version (TTL)."""
    return f"{tenant_prefix(tenant)}ours:{side}:{record_id}"


def pending(tenant: str, side: str, record_id: str) -> str:
    """Hash: our writes to the record whose echo is not seen yet (TTL)."""
    return f"{tenant_prefix(tenant)}pending:{side}:{record_id}"


def echo_fingerprint(tenant: str, side: str, record_id: str, field: str, value: str | None) -> str:
    """Set before our write of `field` = `value`; its echo consumes it (TTL)."""
    return f"{tenant_prefix(tenant)}fp:{side}:{record_id}:{fingerprint(field, value)}"


def link(tenant: str, side: str, record_id: str) -> str:
    """The record's platform incident."""
    return f"{tenant_prefix(tenant)}link:{side}:{record_id}"


def links(tenant: str, incident: str) -> str:
    """Hash: integration -> the incident's record there."""
    return f"{tenant_prefix(tenant)}links:{incident}"


def detached(tenant: str, incident: str) -> str:
    """Hash: integration -> the id of the incident's record deleted there."""
    return f"{tenant_prefix(tenant)}detached:{incident}"


def field_writes(tenant: str, incident: str) -> str:
    """Hash: the arbiter's standing change per incident field."""
    return f"{tenant_prefix(tenant)}fw:{incident}"


def parked(tenant: str, incident: str) -> str:
    """Hash: field -> the pending conflict that parks it."""
    return f"{tenant_prefix(tenant)}parked:{incident}"


def comments(tenant: str, incident: str, side: str) -> str:
    """Hash: the comment id map of one side of an incident (`outbound.commentmap`)."""
    return f"{tenant_prefix(tenant)}comments:{incident}:{side}"


def notes(tenant: str, side: str, record_id: str) -> str:
    """Set: fingerprints of the comments a create wrote to the record (TTL)."""
    return f"{tenant_prefix(tenant)}notes:{side}:{record_id}"


# -- the delivery path ----------------------------------------------------------------------------
def held(tenant: str, integration_id: str) -> str:
    """Stream: the commands held for a paused integration (`outbound.hold`)."""
    return f"{tenant_prefix(tenant)}held:{integration_id}"


def held_lock(tenant: str, integration_id: str) -> str:
    """The lease of the worker letting the held commands out."""
    return f"{held(tenant, integration_id)}:lock"


def blocked(tenant: str, integration_id: str) -> str:
    """The tool's "not before" (unix time, `outbound.stages.delivery.throttle`)."""
    return f"{tenant_prefix(tenant)}block:{integration_id}"


def inflight(tenant: str, integration_id: str) -> str:
    """Sorted set: the leases of requests in flight to the tool."""
    return f"{tenant_prefix(tenant)}inflight:{integration_id}"


def dlq(tenant: str, integration_id: str) -> str:
    """Hash: DLQ entry id -> entry (`syncstate.dlq`)."""
    return f"{tenant_prefix(tenant)}dlq:{integration_id}"


def dlq_at(tenant: str, integration_id: str) -> str:
    """Sorted set: DLQ entry ids by when they died."""
    return f"{dlq(tenant, integration_id)}:at"


def quarantine(tenant: str) -> str:
    """Hash: quarantine entry id -> entry (`syncstate.quarantine`)."""
    return f"{tenant_prefix(tenant)}quarantine"


def quarantine_at(tenant: str) -> str:
    return f"{quarantine(tenant)}:at"


def quarantine_depth(tenant: str) -> str:
    return f"{quarantine(tenant)}:depth"


# -- conflicts (`syncstate.conflicts`) ------------------------------------------------------------
def conflict(tenant: str, conflict_id: str) -> str:
    return f"{tenant_prefix(tenant)}conflict:{conflict_id}"


def conflicts(tenant: str, status: str) -> str:
    """Sorted set: conflict ids of one status by detection time."""
    return f"{tenant_prefix(tenant)}conflicts:{status}"


def conflicts_of(tenant: str, incident: str) -> str:
    """Set: the incident's conflict ids."""
    return f"{tenant_prefix(tenant)}conflicts:incident:{incident}"


# -- the reconciler (`syncstate.reconcile`, `reconciler.attempts`) ------------------------------
def _reconcile(tenant: str) -> str:
    return f"{tenant_prefix(tenant)}reconcile:"


def reconcile_run(tenant: str, run_id: str) -> str:
    return f"{_reconcile(tenant)}run:{run_id}"


def reconcile_runs(tenant: str, integration: str) -> str:
    """Sorted set: the integration's run ids by request time."""
    return f"{_reconcile(tenant)}runs:{integration}"


def reconcile_queue(tenant: str, integration: str) -> str:
    """List: requested run ids."""
    return f"{_reconcile(tenant)}queue:{integration}"


def reconcile_schedule(tenant: str, integration: str) -> str:
    return f"{_reconcile(tenant)}schedule:{integration}"


def reconcile_scheduled(tenant: str, integration: str) -> str:
    """When the schedule last queued a run."""
    return f"{_reconcile(tenant)}scheduled:{integration}"


def reconcile_watermark(tenant: str, side: str) -> str:
    """The polling fallback's position."""
    return f"{_reconcile(tenant)}watermark:{side}"


def reconcile_lease(tenant: str, side: str) -> str:
    """The reconciler that works the side (a `redis.lock.Lock`)."""
    return f"{_reconcile(tenant)}lease:{side}"


def reconcile_heals(tenant: str, integration: str) -> str:
    """Hash: `{record}\\0{field}` -> the heal attempt (`syncmodel.healing`)."""
    return f"{_reconcile(tenant)}heals:{integration}"


# -- jobs for the reconciler (`syncstate.jobs`: kind `link`, `backfill`) -------------------------
def job(tenant: str, kind: str, job_id: str) -> str:
    """A job of one kind (JSON, kept `jobs.JOB_TTL_S`)."""
    return f"{tenant_prefix(tenant)}{kind}job:{job_id}"


def jobs(tenant: str, kind: str, integration: str) -> str:
    """Sorted set of the integration's job ids of one kind by request time (the newest kept)."""
    return f"{tenant_prefix(tenant)}{kind}jobs:{integration}"


def job_queue(tenant: str, kind: str, integration: str) -> str:
    """List of the integration's jobs of one kind asked for and not taken yet (ids)."""
    return f"{tenant_prefix(tenant)}{kind}jobs:queue:{integration}"


# -- the incidents' timelines (`syncstate.timeline`) ---------------------------------------------
def timeline(tenant: str, incident: str) -> str:
    """Stream: every decision about the incident (capped, TTL)."""
    return f"{tenant_prefix(tenant)}timeline:{incident}"


def timeline_ref(tenant: str, reference: str) -> str:
    """The incident a reference people know (a ServiceNow number) names (TTL)."""
    return f"{tenant_prefix(tenant)}tlref:{reference}"
