"""The gate: sync.inbound -> guards in order (`guards.CHAIN`) -> sync.changes."""
