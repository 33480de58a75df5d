"""The control REST API (aiohttp) under /api/v1."""
