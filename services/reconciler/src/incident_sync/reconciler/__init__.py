"""The reconciler: drift detection and auto-heal, schedules, and the polling fallback."""
