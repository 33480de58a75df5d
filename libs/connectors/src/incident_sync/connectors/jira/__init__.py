"""Jira Cloud / Jira Service Management: webhooks, REST v3 client, issue <-> canonical fields."""
