# Who may do what through the control API. Evaluated in-process (regorus) for every request;
# the service re-reads this file when it changes, so operators edit it without code.
#
# input.subject   {authenticated, id, name, role, scope: {tenants: [..], integrations: ["tenant/name"]}}
# input.action    e.g. "integration.update" (see the route table: `im` docs or /api/v1/openapi.json,
#                 each operation's x-action)
# input.resource  {tenant, integration, field, token, run, dlq_entry, quarantine_entry,
#                 incident: {id, commander, assignees}}
# input.request   {method, path}
#
# Roles: platform.administrator (everything), integration.manager (integrations in its scope),
# incident_commander (sync status; conflicts, timelines and field explanations of incidents
# assigned to them), viewer (sync status).
package incident_sync.control

import rego.v1

default allow := false

# -- anyone ------------------------------------------------------------------------------------
allow if input.action in {"openapi.read", "health.read", "metrics.read"}

# -- any valid token ---------------------------------------------------------------------------
authenticated if input.subject.authenticated == true

allow if {
	authenticated
	input.action == "whoami"
}

# -- platform.administrator --------------------------------------------------------------------
allow if {
	authenticated
	input.subject.role == "platform.administrator"
}

# -- scope helpers -----------------------------------------------------------------------------
tenant_in_scope if "*" in input.subject.scope.tenants

tenant_in_scope if input.resource.tenant in input.subject.scope.tenants

integration_in_scope if tenant_in_scope

integration_in_scope if {
	input.resource.integration
	concat("/", [input.resource.tenant, input.resource.integration]) in input.subject.scope.integrations
}

# A tenant-wide list, for a token scoped to some of the tenant's integrations: allowed, and
# the service then filters the items with the item's own decision.
some_integration_of_tenant_in_scope if {
	some entry in input.subject.scope.integrations
	startswith(entry, concat("", [input.resource.tenant, "/"]))
}

# -- integration.manager -----------------------------------------------------------------------
manager_actions := {
	"integration.read", "integration.create", "integration.apply", "integration.update",
	"integration.delete", "integration.pause", "integration.resume", "integration.test",
	"integration.fields",
	"status.read", "conflict.read", "conflict.resolve", "integration.sync",
	"integration.link", "integration.backfill",
	"dlq.read", "dlq.retry", "dlq.discard",
	"quarantine.list", "quarantine.read", "quarantine.retry", "quarantine.discard",
}

allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action in manager_actions
	integration_in_scope
}

allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action in {"integration.list", "status.list", "conflict.list"}
	tenant_in_scope
}

allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action in {"integration.list", "status.list", "conflict.list"}
	some_integration_of_tenant_in_scope
}

# Creating: the route is decided for the tenant, then the service asks again with the new
# integration's name (from the body), which the rules above decide.
allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action == "integration.create"
	not input.resource.integration
	some_integration_of_tenant_in_scope
}

# The tenant's quarantine, listed or retried by a filter, for a token scoped to some of the
# tenant's integrations: allowed, and the service decides each entry with its own
# integration (an entry of no integration in particular is the tenant's: not theirs).
allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action in {"quarantine.list", "quarantine.retry"}
	not input.resource.quarantine_entry
	not input.resource.integration
	some_integration_of_tenant_in_scope
}

# The tenant's platform connection and audit trail: managers of the whole tenant may read them.
allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action in {"platform.read", "platform.fields", "audit.read"}
	tenant_in_scope
}

# -- viewer and incident_commander: sync status, read-only -------------------------------------
status_roles := {"viewer", "incident_commander"}

allow if {
	authenticated
	input.subject.role in status_roles
	input.action in {"status.list", "status.read"}
	tenant_in_scope
}

# -- incident_commander: conflicts of the incidents assigned to them ---------------------------
assigned_to_subject if input.resource.incident.commander == input.subject.name

assigned_to_subject if input.subject.name in input.resource.incident.assignees

allow if {
	authenticated
	input.subject.role == "incident_commander"
	input.action in {"conflict.read", "conflict.resolve"}
	tenant_in_scope
	assigned_to_subject
}

# The list itself; the service filters its items with `conflict.read`.
allow if {
	authenticated
	input.subject.role == "incident_commander"
	input.action == "conflict.list"
	tenant_in_scope
}

# -- an incident's timeline (and its fields explained, the same action): managers of the whole
# tenant; incident commanders, the incidents they lead (input.resource.incident, as for
# conflicts) -----------------------------------------------------------------------------------
allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action == "incident.timeline"
	tenant_in_scope
}

allow if {
	authenticated
	input.subject.role == "incident_commander"
	input.action == "incident.timeline"
	tenant_in_scope
	assigned_to_subject
}

# -- reconciliation: managers run and schedule it; whoever sees sync status sees its history --
allow if {
	authenticated
	input.subject.role == "integration.manager"
	input.action in {"reconcile.run", "reconcile.schedule", "reconcile.read"}
	integration_in_scope
}

allow if {
	authenticated
	input.subject.role in status_roles
	input.action == "reconcile.read"
	tenant_in_scope
}

# -- why not -----------------------------------------------------------------------------------
default reason := "the policy does not allow this"

reason := "a valid bearer token is required" if not authenticated

reason := sprintf("role %s may not %s here", [input.subject.role, input.action]) if {
	authenticated
	not allow
}
