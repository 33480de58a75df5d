"""Delivery: sync.outbound -> one attempt per message -> the ladder (retry topics, DLQ)."""
