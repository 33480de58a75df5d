"""A local stand-in for Datadog's incidents API v2 and the notification webhook that
incident-sync's setup guide configures (shared-secret header, templated payload)."""
