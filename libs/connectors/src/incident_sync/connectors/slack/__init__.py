"""Slack: an outbound-only notifier, one message per incident kept current."""
