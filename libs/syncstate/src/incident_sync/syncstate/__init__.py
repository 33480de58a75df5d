"""Redis-backed records shared by the services: what the pipeline writes and the control
plane reads or settles (conflicts today). Keys are scoped by tenant: `is:{tenant}:...`."""
