"""Datadog Incident Management: incidents API v2 and a shared-secret notification webhook."""
