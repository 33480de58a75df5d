"""Local stand-ins for the vendors' APIs (incident.io v2, ServiceNow Table API).

In-memory, loopback-only aiohttp servers that answer with the vendors' shapes and send
signed webhooks on every change, so tests and the demo run without real accounts.
"""
