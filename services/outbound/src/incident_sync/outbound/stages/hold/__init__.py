"""Paused integrations: their commands held in order, let out on resume."""
