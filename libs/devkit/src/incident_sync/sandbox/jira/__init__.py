"""A local stand-in for Jira Cloud's REST API v3 and its signed admin webhooks."""
