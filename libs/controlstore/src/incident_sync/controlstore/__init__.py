"""The control store: integrations, the platform connection, audit and counters in Redis.

Written by the control service; read by the pipeline (`controlstore.source`). Secrets are
sealed with AES-GCM (`controlstore.crypto`) and never stored in clear.
"""
