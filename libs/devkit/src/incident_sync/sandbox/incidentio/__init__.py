"""A local stand-in for the incident.io API v2 and its Svix-signed webhooks."""
