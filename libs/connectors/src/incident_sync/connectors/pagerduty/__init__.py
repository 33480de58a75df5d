"""PagerDuty: webhooks v3 (signed), REST API v2 client, incident <-> canonical fields."""
