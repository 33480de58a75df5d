"""Redis-backed records shared by the services: what the pipeline writes and the control
plane reads or settles. Every key comes from `keys` (a tenant's carry the tenant as their hash
tag, `is:{tenant}:...`); every client from `client` (one server or a Redis Cluster)."""
