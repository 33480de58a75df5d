"""A local stand-in for the PagerDuty REST API v2 and its signed v3 webhooks."""
