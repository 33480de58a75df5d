"""Operators' entry points: the `im` CLI (the control API arrives with its own issue)."""
